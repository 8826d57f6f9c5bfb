"""`attncc inspect`: a spec's Triton kernels compiled for an NVIDIA GPU without one, and read.

`record` runs a forward and a backward pass of the generated module on CPU tensors with its
launches recorded instead of run (the configs the schedule picks for the chosen GPU); `gpu`
compiles each recorded launch as Triton's JIT would for that GPU (its binder's specialization,
then ptxas, shipped in Triton's wheel); `sass` reads the cubin (registers, spills, shared memory,
the MMA instructions, how global loads are done, the loops and their instruction counts);
`worker` is the process that does it (TRITON_INTERPRET=0); `command` is the command line.

Imports: `bench` (dtype names), `checks` (samples, values), `driver` and the floors below it.
"""
