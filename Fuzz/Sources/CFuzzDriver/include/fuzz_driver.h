#ifndef PGRELAY_FUZZ_DRIVER_H
#define PGRELAY_FUZZ_DRIVER_H

/// Runs libFuzzer's driver on the target's LLVMFuzzerTestOneInput (defined in Swift with
/// @_cdecl). SwiftPM makes an executable's `main` its module's own entry point, so the targets
/// call this from main.swift instead of linking libFuzzer's `main`.
int pgrelay_fuzz_main(int argc, char **argv);

#endif
