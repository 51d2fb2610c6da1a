import ArgumentParser
import Emu3
import EmuServer
import Foundation
import ShapesRecipe

/// `emu serve`: the HTTP API (docs/server.md) over one loaded checkpoint.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over HTTP: chat, image generation, scoring and the vision tokenizer.")

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Address to listen on (loopback by default; 0.0.0.0 exposes the server to the network).")
    var host = "127.0.0.1"

    @Option(name: .long, help: "TCP port.")
    var port = 8080

    @Option(name: .long, help: "Largest accepted request body, in bytes.")
    var maxBodySize = EmuHTTPServer.defaultMaxBodySize

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be in 1...65535, got \(port)") }
        guard maxBodySize > 0 else { throw ValidationError("--max-body-size must be positive") }
    }

    func run() async throws {
        var service: ModelService?
        var directory = ""
        try runReportingErrors {
            // The bundled ShapesWorld model is served by the same API, within its world's limits
            // (docs/server.md, "The bundled model").
            let folder = try ModelLoading.directory(options)
            if ModelLoading.isShapesModel(URL(fileURLWithPath: folder)) {
                let model = try ShapesModelLocation.load(folder)
                service = ModelService(shapes: model)
                directory = model.directory.path
            } else {
                let pipeline = try ModelLoading.pipeline(options, components: .all)
                service = ModelService(pipeline: pipeline)
                directory = pipeline.directory.path
            }
        }
        guard let service else { throw ExitCode(1) }
        Output.log("serving \(directory) on http://\(host):\(port)")
        let application = EmuHTTPServer.application(service: service, host: host, port: port, maxBodySize: maxBodySize)
        try await application.runService()
    }
}
