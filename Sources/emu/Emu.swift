import ArgumentParser

@main
struct Emu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emu",
        abstract: "Emu3 in Swift: generate, understand, tokenize and train.",
        subcommands: [VQCommand.self])
}
