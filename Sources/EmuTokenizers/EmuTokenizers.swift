// EmuTokenizers module.
