import Foundation
import EmuTensor

/// What the next-token trainer needs from a model: its named parameters (leaves of the autograd
/// graph, float32, owned storage) and differentiable logits.
public protocol NextTokenModel {
    /// Trainable parameters by checkpoint name.
    var parameters: [String: Tensor] { get }
    /// Logits [batch * length, vocab] for `inputs` (batch rows of equal length), recorded for
    /// autograd. `layout`, when given, says what each input may attend to and where it sits
    /// (`PackedBatch.isolatedLayout`); nil: every input sees the whole row before it.
    func logits(forTraining inputs: [[Int]], layout: AttentionLayout?) -> Tensor
}

extension NextTokenModel {
    /// Logits with every position seeing the whole row before it.
    public func logits(forTraining inputs: [[Int]]) -> Tensor { logits(forTraining: inputs, layout: nil) }
}

/// Settings of one next-token training run.
public struct TrainingConfiguration: Sendable, Codable, Equatable {
    public var steps: Int
    public var batchSize: Int
    public var gradientAccumulation: Int
    public var sequenceLength: Int
    public var schedule: LearningRateSchedule
    public var optimizer: AdamW.Configuration
    public var maxGradientNorm: Float
    public var seed: UInt64
    public var evaluationInterval: Int
    public var checkpointInterval: Int
    /// Tokens put in place of the examples' noisable inputs (nil: none). Optional so that trainer
    /// states saved before it existed still load.
    public var contextNoise: ContextNoise?
    /// Whether each example packed into a row attends only to itself (as it will when generating
    /// alone) rather than also to the examples packed before it. Optional so that trainer states
    /// saved before it existed still load (nil: they did not isolate).
    public var isolatesExamples: Bool?

    /// Noise on the context a model will later write itself (video frames), so that training
    /// shows it imperfect context as free-running generation does: each packed row draws a rate
    /// uniformly in [0, maxRate], and each of its noisable inputs is replaced with that
    /// probability by a token of `replacements`. Targets stay the true tokens.
    public struct ContextNoise: Sendable, Codable, Equatable {
        public enum Source: String, Sendable, Codable {
            /// A token drawn uniformly from `replacements`.
            case randomTokens
            /// The model's own most likely token of `replacements` at that position, predicted from
            /// the true tokens before it by a forward pass without gradients (parallel scheduled
            /// sampling): its one-step mistakes, at about a third more compute for those rows.
            case modelPredictions
            /// The model's own greedy continuation of the noised inputs: `passes` rounds of
            /// `modelPredictions`, each reading the previous round's guesses in place of the noised
            /// inputs (Jacobi iteration of greedy decoding), so a guess k frames into what the model
            /// writes rests on k rounds of its own guesses, as in free-running generation. A row is
            /// rolled out whole (every noisable input) with probability `maxRate`, else left true,
            /// so the passes' cost falls on that share of the rows only.
            case modelRollout
        }
        public var source: Source
        public var maxRate: Double
        public var replacements: Range<Int>
        /// Forward passes of `modelRollout` (nil for the other sources). Optional so that trainer
        /// states saved before it existed still load.
        public var passes: Int?

        public init(source: Source = .randomTokens, maxRate: Double, replacements: Range<Int>, passes: Int = 1) {
            precondition((0...1).contains(maxRate) && !replacements.isEmpty, "context noise needs a rate in [0, 1] and tokens to draw")
            precondition(passes >= 1 && (passes == 1 || source == .modelRollout), "only a roll-out makes more than one pass")
            self.source = source
            self.maxRate = maxRate
            self.replacements = replacements
            self.passes = source == .modelRollout ? passes : nil
        }
    }

    public init(steps: Int, batchSize: Int = 8, gradientAccumulation: Int = 1, sequenceLength: Int = 512,
                schedule: LearningRateSchedule? = nil, optimizer: AdamW.Configuration = .init(),
                maxGradientNorm: Float = 1.0, seed: UInt64 = 0, evaluationInterval: Int = 0, checkpointInterval: Int = 0,
                contextNoise: ContextNoise? = nil, isolatesExamples: Bool = false) {
        self.steps = steps
        self.batchSize = batchSize
        self.gradientAccumulation = gradientAccumulation
        self.sequenceLength = sequenceLength
        self.schedule = schedule ?? LearningRateSchedule(peak: optimizer.learningRate, warmupSteps: max(steps / 20, 1), totalSteps: steps)
        self.optimizer = optimizer
        self.maxGradientNorm = maxGradientNorm
        self.seed = seed
        self.evaluationInterval = evaluationInterval
        self.checkpointInterval = checkpointInterval
        self.contextNoise = contextNoise
        self.isolatesExamples = isolatesExamples ? true : nil
    }
}

/// One optimizer step's measurements (a line of the JSONL metrics log).
public struct StepMetrics: Sendable, Codable, Equatable {
    public var step: Int
    public var loss: Float
    public var learningRate: Float
    public var gradientNorm: Float
    public var tokens: Int
    public var seconds: Double
    public var evaluationLoss: Float?
}

/// The one training loop for next-token models: micro-batches from packed rows in a deterministic
/// order (a function of seed and step, so resuming replays the same data), weighted cross-entropy,
/// gradient accumulation, global-norm clipping, AdamW on the warmup-cosine schedule.
public final class NextTokenTrainer<Model: NextTokenModel> {
    public let model: Model
    public let configuration: TrainingConfiguration
    public let optimizer: AdamW
    let rows: [TrainingExample]
    let packer: SequencePacker

    /// `rows` are packed rows of `sequenceLength + 1` tokens (see `SequencePacker.pack`).
    public init(model: Model, rows: [TrainingExample], configuration: TrainingConfiguration, paddingID: Int) {
        precondition(!rows.isEmpty && rows.allSatisfy { $0.ids.count == configuration.sequenceLength + 1 },
                     "trainer rows must be packed to sequenceLength + 1 tokens")
        self.model = model
        self.rows = rows
        self.configuration = configuration
        self.optimizer = AdamW(configuration: configuration.optimizer)
        self.packer = SequencePacker(length: configuration.sequenceLength, paddingID: paddingID)
    }

    /// What `batch`'s positions may attend to under this configuration (nil: the whole row).
    /// Turns are isolated only with examples: without, a turn sees the row before it.
    func layout(_ batch: PackedBatch) -> AttentionLayout? {
        configuration.isolatesExamples == true ? batch.isolatedLayout : nil
    }

    /// Completed optimizer steps.
    public var step: Int { optimizer.step }

    /// The rows of micro-batch `micro` of optimizer step `step`: epoch-wise deterministic shuffles.
    func microBatch(step: Int, micro: Int) -> PackedBatch {
        let perStep = configuration.batchSize * configuration.gradientAccumulation
        let start = (step * perStep + micro * configuration.batchSize)
        var picked: [TrainingExample] = []
        var epochCache: (Int, [TrainingExample])? = nil
        for k in 0..<configuration.batchSize {
            let global = start + k
            let epoch = global / rows.count
            if epochCache?.0 != epoch { epochCache = (epoch, rows.deterministicallyShuffled(seed: configuration.seed, epoch: epoch)) }
            picked.append(epochCache!.1[global % rows.count])
        }
        var batch = packer.batches(picked, batchSize: picked.count)[0]
        if let noise = configuration.contextNoise { addNoise(noise, to: &batch, step: step, micro: micro) }
        return batch
    }

    /// Replaces noisable inputs of `batch` in place; a function of (seed, step, micro) and the
    /// model's weights only, so a resumed run draws the same noise.
    func addNoise(_ noise: TrainingConfiguration.ContextNoise, to batch: inout PackedBatch, step: Int, micro: Int) {
        var random = SeededGenerator(seed: (configuration.seed ^ 0x6E6F_6973_65) &+ (UInt64(step) &* 0x1_0000) &+ UInt64(micro))
        let noisyRows = batch.noisable.indices.filter { batch.noisable[$0].contains(true) }
        guard !noisyRows.isEmpty else { return }
        if noise.source == .randomTokens {
            let count = UInt64(noise.replacements.count)
            for row in noisyRows {
                let rate = random.unit() * noise.maxRate
                for i in batch.noisable[row].indices where batch.noisable[row][i] && random.unit() < rate {
                    batch.inputs[row][i] = noise.replacements.lowerBound + Int(random.next() % count)
                }
            }
            return
        }
        // The model's guesses: which inputs are replaced is drawn first, then each pass puts at
        // every replaced input i the model's most likely replacement at position i - 1 (whose
        // target is input i), read from the inputs of the pass before (the true ones at first).
        let picked: [(row: Int, replaced: [Int])] = noisyRows.compactMap { row in
            if noise.source == .modelRollout {
                guard random.unit() < noise.maxRate else { return nil }
                return (row, batch.noisable[row].indices.filter { batch.noisable[row][$0] && $0 > 0 })
            }
            let rate = random.unit() * noise.maxRate
            // One draw per noisable input, position 0 included, as runs before the roll-out drew.
            let replaced = batch.noisable[row].indices.filter { batch.noisable[row][$0] && random.unit() < rate && $0 > 0 }
            return (row, replaced)
        }
        .filter { !$0.replaced.isEmpty }  // a row with nothing to replace needs no forward pass
        guard !picked.isEmpty else { return }
        let replaced = picked.map(\.replaced)
        var inputs = picked.map { batch.inputs[$0.row] }
        let pickedRows = PackedBatch(inputs: inputs, targets: [], weights: [],
                                     exampleStarts: picked.map { $0.row < batch.exampleStarts.count ? batch.exampleStarts[$0.row] : [] },
                                     turnStarts: picked.map { $0.row < batch.turnStarts.count ? batch.turnStarts[$0.row] : [] })
        let visible = layout(pickedRows)
        for _ in 0..<(noise.passes ?? 1) {
            let tensor = Autograd.withoutGradients { model.logits(forTraining: inputs, layout: visible) }
            let (logits, vocabulary) = (tensor.toArray(), tensor.shape[1])
            for r in inputs.indices {
                for i in replaced[r] {
                    let base = (r * batch.length + i - 1) * vocabulary
                    inputs[r][i] = noise.replacements.max { logits[base + $0] < logits[base + $1] }!
                }
            }
        }
        for (r, row) in picked.map(\.row).enumerated() { batch.inputs[row] = inputs[r] }
    }

    /// Mean weighted loss of `batch` without recording gradients.
    public func evaluate(_ batches: [PackedBatch]) -> Float {
        Autograd.withoutGradients {
            var total: Float = 0, weight: Float = 0
            for b in batches {
                let w = b.weights.flatMap { $0 }
                let sw = w.reduce(0, +)
                guard sw > 0 else { continue }
                let loss = CrossEntropy.loss(logits: model.logits(forTraining: b.inputs, layout: layout(b)),
                                             targets: b.targets.flatMap { $0 }, weights: w)
                total += loss.item * sw
                weight += sw
            }
            return weight > 0 ? total / weight : 0
        }
    }

    /// Runs one optimizer step and returns its metrics.
    @discardableResult
    public func trainStep() -> StepMetrics {
        let started = Date()
        let parameters = model.parameters
        for p in parameters.values { p.zeroGradient() }
        let micro = (0..<configuration.gradientAccumulation).map { microBatch(step: step, micro: $0) }
        // Every micro-batch's loss is weighted by its share of the step's supervised weight, so
        // accumulation equals one large batch.
        let weightSums = micro.map { $0.weights.flatMap { $0 }.reduce(0, +) }
        let totalWeight = max(weightSums.reduce(0, +), 1e-12)
        var lossSum: Float = 0
        var tokens = 0
        for (b, sw) in zip(micro, weightSums) where sw > 0 {
            let loss = CrossEntropy.loss(logits: model.logits(forTraining: b.inputs, layout: layout(b)),
                                         targets: b.targets.flatMap { $0 }, weights: b.weights.flatMap { $0 })
            let share = sw / totalWeight
            loss.scaled(by: share).backward()
            lossSum += loss.item * share
            tokens += b.batchSize * b.length
        }
        let norm = GradientClipping.clipGlobalNorm(parameters, maxNorm: configuration.maxGradientNorm)
        let lr = configuration.schedule.rate(at: step)
        Autograd.withoutGradients { optimizer.update(parameters, learningRate: lr) }
        return StepMetrics(step: step, loss: lossSum, learningRate: lr, gradientNorm: norm, tokens: tokens,
                           seconds: Date().timeIntervalSince(started), evaluationLoss: nil)
    }
}
