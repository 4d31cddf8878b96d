/* Names of the fast path's programs and drop reasons (tc-progs/moq_maps.h
 * enum moq_prog / enum moq_reason), as moq-relayctl prints them and the
 * metrics endpoint labels them. */
#ifndef FP_NAMES_H
#define FP_NAMES_H

/* "upstream_ingress", ...; "?" out of range. */
const char *fp_prog_name(unsigned prog);
/* "forwarded", "gate_drop", ...; "?" out of range. */
const char *fp_reason_name(unsigned reason);

#endif
