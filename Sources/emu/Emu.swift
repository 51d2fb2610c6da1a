import ArgumentParser

@main
struct Emu: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emu",
        abstract: "Emu3 in Swift: generate, understand, tokenize and train.",
        subcommands: [DemoCommand.self, GenerateCommand.self, ChatCommand.self, VideoCommand.self, ScoreCommand.self,
                      VQCommand.self, TrainCommand.self, EvalCommand.self, ServeCommand.self, BenchCommand.self])
}
