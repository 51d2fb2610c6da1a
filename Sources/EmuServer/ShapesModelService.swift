import Emu3
import EmuIO
import Foundation
import ShapesRecipe

// The API over a ShapesWorld model (the bundled one). The routes and documents are the same as
// for an Emu3 checkpoint; what differs is what a request may ask: the model speaks its world's
// words only, has no chat template, answers about exactly one picture and draws its 64x64 canvas.
// Each difference is a 400 that names it, checked before any token is generated.
extension ModelService {
    /// The question prompt for `text` about the request's one picture.
    func shapesChatPrompt(_ text: String, request: ChatRequest, model: ShapesModel) throws -> [Int] {
        if request.system != nil {
            throw APIError.badRequest("system: the ShapesWorld model has no chat template, so no system message")
        }
        if request.raw == true {
            throw APIError.badRequest("raw: the ShapesWorld model has no chat template to skip; send prompt_ids for a verbatim prompt")
        }
        let images = request.images ?? []
        guard images.count == 1 else {
            throw APIError.badRequest("images: the ShapesWorld model answers about exactly one picture, got \(images.count)")
        }
        try shapesCheck { try model.checkWords(text, role: "prompt") }
        let picture = try shapesCanvas(images[0], field: "images[0]", model: model)
        let codes = try model.codec.encode(picture)
        return model.sequences.questionPrompt(imageCodes: codes, question: text)
    }

    func generateShapesImage(_ request: ImageGenerationRequest, model: ShapesModel) throws -> ImageGenerationResponse {
        let canvas = model.sequences.rows * model.codec.spatialFactor
        if let ratio = request.ratio, ratio != "1:1" {
            throw APIError.badRequest("ratio: the ShapesWorld model draws its \(canvas)x\(canvas) canvas only (1:1), not \(ratio)")
        }
        if let area = request.area, area != canvas * canvas {
            throw APIError.badRequest("area: the ShapesWorld model draws its \(canvas)x\(canvas) canvas only (\(canvas * canvas) pixels), not \(area)")
        }
        let negative = request.negativePrompt ?? ""
        try shapesCheck {
            try model.checkWords(request.prompt, role: "prompt")
            try model.checkWords(negative, role: "negative_prompt")
        }
        let scale = request.cfg ?? model.imageDefaults.guidance
        guard scale.isFinite else { throw APIError.badRequest("cfg must be a finite number") }
        let (sampling, seed) = try samplingParameters(request.sampling, defaults: model.imageDefaults.sampling)
        let reranking = try Self.reranking(request)
        let ids = try shapesCheck {
            try model.generateImageIDs(request.prompt, negativePrompt: negative, guidance: scale, sampling: sampling, reranking: reranking)
        }
        let image = try model.image(fromIDs: ids)
        return ImageGenerationResponse(rows: model.sequences.rows, columns: model.sequences.columns, ids: ids,
                                       image: Data(PNG.encode(image)).base64EncodedString(), seed: seed)
    }

    static func reranking(_ request: ImageGenerationRequest) throws -> ImageReranking {
        let count = request.bestOf ?? 1
        guard (1...ImageReranking.maximumCandidates).contains(count) else {
            throw APIError.badRequest("best_of must be 1 to \(ImageReranking.maximumCandidates) pictures, not \(count)")
        }
        let name = request.rerank ?? ImageReranking.defaultScore.rawValue
        guard let score = ImageReranking.Score(rawValue: name) else {
            let known = ImageReranking.Score.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.badRequest("rerank: '\(name)' is not a rating; use one of \(known)")
        }
        return ImageReranking(candidates: count, score: score)
    }

    func encodeShapesPicture(_ image: RGBImage, model: ShapesModel) throws -> CodesDocument {
        let picture = try shapesCheck { try model.canvasPicture(image, role: "image") }
        let rows = model.sequences.rows, columns = model.sequences.columns
        let codes = VisionCodes(frames: 1, height: rows, width: columns, values: try model.codec.encode(picture))
        return CodesDocument(frames: 1, height: rows, width: columns, pixelHeight: picture.height,
                             pixelWidth: picture.width, codes: codes.nested)
    }

    func decodeShapesCodes(_ request: CodesDocument, model: ShapesModel) throws -> DecodedImageResponse {
        let rows = model.sequences.rows, columns = model.sequences.columns
        guard let grid = VisionCodes(nested: request.codes) else {
            throw APIError.badRequest("codes: expected a non-empty [frames][rows][columns] array with rows of equal length")
        }
        guard grid.height == rows, grid.width == columns else {
            throw APIError.badRequest("codes: the ShapesWorld model's pictures are \(rows)x\(columns) codes, not \(grid.height)x\(grid.width)")
        }
        let size = model.codec.codeCount
        let firstFrame = Array(grid.values.prefix(rows * columns))
        if let index = firstFrame.firstIndex(where: { !(0..<size).contains($0) }) {
            throw APIError.badRequest("codes: code \(firstFrame[index]) (element \(index)) is outside the codebook of \(size)")
        }
        let image = try model.codec.decode(firstFrame, rows: rows, columns: columns)
        return DecodedImageResponse(width: image.width, height: image.height, image: Data(PNG.encode(image)).base64EncodedString())
    }

    private func shapesCanvas(_ encoded: String, field: String, model: ShapesModel) throws -> RGBImage {
        let image = try decodeImage(encoded, field: field)
        return try shapesCheck { try model.canvasPicture(image, role: field) }
    }

    /// Runs `body`, turning the model's complaints about a request (unknown words, a picture of
    /// the wrong size) into 400s.
    private func shapesCheck<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ShapesModelError {
            throw APIError.badRequest(error.description)
        }
    }
}
