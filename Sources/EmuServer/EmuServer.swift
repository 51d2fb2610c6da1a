// EmuServer module.
