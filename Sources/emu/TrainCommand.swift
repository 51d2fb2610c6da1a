import ArgumentParser

/// `emu train`: training runs whose checkpoints load in transformers.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train or fine-tune the transformer.", subcommands: [TrainLanguageModelCommand.self])
}
