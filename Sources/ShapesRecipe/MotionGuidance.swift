import Emu3

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
