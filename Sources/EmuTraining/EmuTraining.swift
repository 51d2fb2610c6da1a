// EmuTraining module.
