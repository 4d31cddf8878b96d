/* fp_names: program and reason names (fp_names.h), generated from the
 * X-macros of moq_maps.h so a new reason cannot go unnamed. */
#include "fp_names.h"

#include "moq_maps.h"

#define FP_NAME(id, name) name,
static const char *const prog_names[MOQ_PROG_MAX] = {MOQ_PROGS(FP_NAME)};
static const char *const reason_names[MOQ_R_MAX] = {MOQ_REASONS(FP_NAME)};
#undef FP_NAME

const char *fp_prog_name(unsigned prog)
{
	return prog < MOQ_PROG_MAX ? prog_names[prog] : "?";
}

const char *fp_reason_name(unsigned reason)
{
	return reason < MOQ_R_MAX ? reason_names[reason] : "?";
}
