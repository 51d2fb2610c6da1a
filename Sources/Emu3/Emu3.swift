// Emu3 module.
