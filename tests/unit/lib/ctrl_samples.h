/* Sample control messages for the control codec tests: one fully populated
 * message per draft-18 message type, parameters exercised. */
#ifndef TEST_CTRL_SAMPLES_H
#define TEST_CTRL_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "control.h"

/* Every message type, in the draft's table order. */
extern const uint64_t ctrl_sample_types[];
extern const size_t ctrl_sample_ntypes;

/* Fill *m with a sample of the given type (views point at static data). */
void ctrl_sample(struct moq_ctrl_msg *m, uint64_t type);

/* A namespace of nfields fields "f0".."fN" (static storage, reused). */
void ctrl_sample_namespace(struct moq_namespace *ns, size_t nfields);

#endif
