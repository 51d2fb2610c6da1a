import ArgumentParser

@main
struct Emu: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emu",
        abstract: "Emu3 in Swift: generate, understand, tokenize and train.",
        subcommands: [ScoreCommand.self, ServeCommand.self])
}
