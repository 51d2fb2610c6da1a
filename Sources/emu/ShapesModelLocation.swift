import Foundation
import ShapesRecipe

/// The ShapesWorld model of `emu demo` and `emu eval`: `--model`, else the bundled one.
enum ShapesModelLocation {
    static func load(_ explicit: String?) throws -> ShapesModel {
        let url = URL(fileURLWithPath: try explicit ?? ModelLoading.bundledModelDirectory())
        Output.log("loading \(url.path)")
        return try ShapesModelCommands.userFacing { try ShapesModel(directory: url) }
    }
}
