import Emu3
import EmuIO
import Foundation

/// Classifier-free guidance for video continuation whose unconditional prompt is the given clip
/// with its motion turned back (`reversed`, the default) or taken out (`still`): scores
/// u + scale · (c − u), so each predicted frame is pushed toward what the given motion adds. A scale
/// of 1 is none, the default. The still clip erases objects that the reversed one keeps (RESULTS.md).
public struct MotionGuidance: Codable, Sendable, Equatable {
    /// The clip the prediction is contrasted with.
    public enum Contrast: String, Codable, Sendable, CaseIterable {
        /// The given frames in reverse order: what the model predicts if everything moved back.
        case reversed
        /// Every given frame replaced by the last one: what it predicts if nothing moved.
        case still
    }

    public var scale: Float
    /// `ClassifierFreeGuidance.plausibility`: guidance may choose only codes the plain continuation
    /// gives at least this share of its likeliest code's probability (0: any code).
    public var plausibility: Float
    public var contrast: Contrast

    public static let none = MotionGuidance(scale: 1)

    public init(scale: Float, plausibility: Float = 0, contrast: Contrast = .reversed) {
        self.scale = scale
        self.plausibility = plausibility
        self.contrast = contrast
    }

    enum CodingKeys: String, CodingKey { case scale, plausibility, contrast }

    /// Only the scale is required; the plausibility defaults to 0 and the contrast to reversed.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(scale: try c.decode(Float.self, forKey: .scale),
                  plausibility: try c.decodeIfPresent(Float.self, forKey: .plausibility) ?? 0,
                  contrast: try c.decodeIfPresent(Contrast.self, forKey: .contrast) ?? .reversed)
    }

    /// The key of a model's `generation_config.json` that holds how it continues clips unless told
    /// otherwise (`ShapesModel.videoDefaults`): {"scale": S, "contrast": "reversed", "plausibility": A}.
    public static let configKey = "shapes_motion_guidance"

    /// The `configKey` entry of the generation settings in `folder`, or `.none` without one.
    static func defaults(in folder: URL) throws -> MotionGuidance {
        let path = folder.appendingPathComponent(GenerationConfig.fileName).path
        guard let data = FileManager.default.contents(atPath: path),
              let settings = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let entry = settings[configKey] else {
            return .none
        }
        guard let object = entry as? [String: Any], let data = try? JSONSerialization.data(withJSONObject: object),
              let guidance = try? JSONDecoder().decode(MotionGuidance.self, from: data) else {
            throw ShapesModelError.invalid(path, reason: "\(configKey) must be an object with a number \"scale\" (and optionally \"contrast\": "
                                           + "\(Contrast.allCases.map(\.rawValue).joined(separator: " or ")), \"plausibility\": a share), not \(entry)")
        }
        try guidance.validate("\(path) (\(configKey))")
        return guidance
    }

    /// Throws `ShapesModelError.invalid(what, ...)` unless the scale is 0 or more and finite and the
    /// plausibility a share from 0 to 1.
    public func validate(_ what: String) throws {
        guard scale.isFinite, scale >= 0 else {
            throw ShapesModelError.invalid(what, reason: "motion guidance \(scale) is not a scale (0 or more; 1 is none)")
        }
        guard plausibility >= 0, plausibility <= 1 else {
            throw ShapesModelError.invalid(what, reason: "motion guidance plausibility \(plausibility) is not a share (0 to 1)")
        }
    }

    /// The contrast clip's codes for the given frames' `codes`, or nil where it is the clip itself
    /// (one given frame), so that guidance would only run a second, identical sequence.
    func contrastCodes(_ codes: [[Int]]) -> [[Int]]? {
        guard codes.count >= 2, let last = codes.last else { return nil }
        switch contrast {
        case .still: return [[Int]](repeating: last, count: codes.count)
        case .reversed: return codes.reversed()
        }
    }
}
