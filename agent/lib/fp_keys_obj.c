/* The installer BPF object (tc-progs/tls_keys.bpf.c) inside libagent, so
 * fp_keys needs no path to it: the GNUmakefile builds the object first and
 * passes its path as MOQ_TLS_KEYS_OBJ. */
#ifndef MOQ_TLS_KEYS_OBJ
#error "MOQ_TLS_KEYS_OBJ: path of tls_keys.bpf.o (set by the GNUmakefile)"
#endif

__asm__(".section .rodata\n"
	".global fp_keys_obj_start\n"
	".global fp_keys_obj_end\n"
	".balign 8\n"
	"fp_keys_obj_start:\n"
	".incbin \"" MOQ_TLS_KEYS_OBJ "\"\n"
	"fp_keys_obj_end:\n"
	".previous\n");
