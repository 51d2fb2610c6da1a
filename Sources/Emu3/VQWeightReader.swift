import EmuTensor

/// Hands out a vision tokenizer's weights by their transformers name (`encoder.conv_in.weight`),
/// checking shapes, from a `WeightStore` view in either layout; reports surplus weights at the end.
struct VQWeightReader {
    let store: WeightStore
    let layout: VisionTokenizerLayout

    /// The float32 tensor `name` (a transformers name), which must have `shape` (nil: any shape).
    mutating func take(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        let key = layout == .baai ? VisionTokenizerLayout.baaiName(forTransformersName: name) : name
        let raw: Tensor
        do { raw = try store.tensor(key) } catch {
            if case .missingTensor = error { throw VisionTokenizerError.missingWeight(store.prefix + key) }
            throw VisionTokenizerError.badCheckpoint(error.description)
        }
        var t = raw
        // BAAI's attention projections are 1x1 convolutions: [C, C, 1, 1] for transformers' [C, C].
        if let shape, layout == .baai, t.shape == shape + [1, 1] { t = t.reshaped(shape) }
        if let shape, t.shape != shape {
            throw VisionTokenizerError.weightShape(name: store.prefix + key, expected: shape, found: t.shape)
        }
        return t.to(.float32)
    }

    /// Throws naming the first (sorted) weight nobody took.
    func checkAllTaken() throws {
        if let extra = store.unusedNames().first { throw VisionTokenizerError.unexpectedWeight(store.prefix + extra) }
    }
}

/// How a checkpoint names the vision tokenizer's weights.
public enum VisionTokenizerLayout: String, Sendable {
    /// transformers' `Emu3VQVAE` (standalone, or under `model.vqmodel.` / `vqmodel.` in an -hf checkpoint).
    case transformers
    /// BAAI's original `Emu3VisionVQModel` (`encoder.down.0...`, `encoder.mid...`, 1x1-conv attention).
    case baai

    /// Guesses the layout from the names of a store's weights (already scoped to the tokenizer).
    static func detect(_ store: WeightStore) -> VisionTokenizerLayout {
        store.contains("encoder.mid.block_1.conv1.weight") || store.contains("encoder.down.0.block.0.conv1.weight")
            ? .baai : .transformers
    }

    /// BAAI's key for a transformers weight name:
    /// `encoder.down_block.down.i.` -> `encoder.down.i.`, `decoder.up_block.up.i.` -> `decoder.up.i.`,
    /// `middle_block.` -> `mid.`, `mid.attn_norm.` -> `mid.attn_1.norm.`, `attn_norms.j.` -> `attn.j.norm.`,
    /// and the projections `q_proj`, `k_proj`, `v_proj`, `out_proj` -> `q`, `k`, `v`, `proj_out`.
    public static func baaiName(forTransformersName name: String) -> String {
        var parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var out: [String] = []
        var i = 0
        while i < parts.count {
            let part = parts[i]
            switch part {
            case "down_block" where i + 1 < parts.count && parts[i + 1] == "down": i += 1; out.append("down")
            case "up_block" where i + 1 < parts.count && parts[i + 1] == "up": i += 1; out.append("up")
            case "middle_block": out.append("mid")
            case "attn_norm": out += ["attn_1", "norm"]
            case "attn_norms" where i + 1 < parts.count:
                out += ["attn", parts[i + 1], "norm"]; i += 1
            case "q_proj": out.append("q")
            case "k_proj": out.append("k")
            case "v_proj": out.append("v")
            case "out_proj": out.append("proj_out")
            default: out.append(part)
            }
            i += 1
        }
        parts = out
        return parts.joined(separator: ".")
    }
}
