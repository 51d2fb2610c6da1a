import ArgumentParser
import Emu3
import Foundation

/// `emu chat`: answer a question about images (Emu3-Chat) with the checkpoint's chat template.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chat", abstract: "Answer a prompt about images.")

    @OptionGroup var options: ModelOptions
    @Option(name: .long, help: "An image to show the model (repeatable; in order).")
    var image: [String] = []
    @Option(name: .long, help: "The question.")
    var prompt: String
    @Option(name: .long, help: "System message of the conversation (default: \"\(ChatCommand.defaultSystem)\").")
    var system: String?
    @Flag(name: .long, help: "Use --prompt verbatim instead of the chat template (<image> marks image places).")
    var raw = false
    @Option(name: .customLong("max-new-tokens"),
            help: "Most tokens to generate (default: 256, or what the context leaves).")
    var maxNewTokens: Int?
    @OptionGroup var sampling: SamplingOptions

    static let defaultSystem = "You are a helpful assistant."

    struct Result: Encodable {
        var text: String
        var ids: [Int]
        /// A describe-then-answer ShapesWorld model's answer after its description (absent otherwise).
        var answer: String? = nil
    }

    func validate() throws {
        if let maxNewTokens, maxNewTokens < 1 { throw ValidationError("--max-new-tokens must be at least 1") }
    }

    func run() throws {
        try runReportingErrors {
            if let shapes = try ShapesModelCommands.model(options) {
                try ShapesModelCommands.chat(self, model: shapes)
                return
            }
            let pipeline = try ModelLoading.pipeline(options, components: image.isEmpty ? .transformer : .all)
            let codes = try image.map { try MediaCoding.encodeImage($0, pipeline: pipeline) }
            let messages = [
                ChatTemplate.Message(role: "system", content: [.text(system ?? Self.defaultSystem)]),
                ChatTemplate.Message(role: "user", content: image.map { _ in .image } + [.text(prompt)]),
            ]
            let useRaw = raw || pipeline.chatTemplate == nil
            let progress = TokenProgress(total: maxNewTokens ?? Emu3Pipeline.defaultMaxNewTokens, label: "chat")
            let answer = try pipeline.answer(messages, images: codes, rawPrompt: useRaw ? prompt : nil,
                                             maxNewTokens: maxNewTokens,
                                             sampling: sampling.parameters(greedyByDefault: true),
                                             onToken: progress.callAsFunction)
            progress.finish()
            if options.json {
                try Output.printJSON(Result(text: answer.text, ids: answer.ids))
            } else {
                print(answer.text)
            }
        }
    }
}
