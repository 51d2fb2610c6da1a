import EmuIO

// Model-agnostic samples for the four tasks, from a split, a start index and a count. Sample i of a
// task in a split is made from its own seed, so any slice can be rebuilt alone, and train and
// held-out seeds come from disjoint ranges: evaluation sees layouts and instructions made from seeds
// training never used.

public enum DataSplit: String, CaseIterable, Sendable, Hashable, Codable {
    case train, heldOut = "held_out"

    /// Samples per split and task: indices are below this.
    public static let capacity: UInt64 = 1 << 40

    var firstSeed: UInt64 { self == .train ? 0 : Self.capacity }
}

/// Which task a seed belongs to (keeps the tasks' seed ranges apart too).
public enum TaskTag: UInt64, Sendable { case caption = 1, question, video, action, genEval }

public struct CaptionedImage: Sendable, Equatable {
    public var scene: Scene
    public var image: RGBImage
    /// The canonical caption (what "describe the image" answers).
    public var caption: String
    /// Other true captions of the same scene (size left out, "and" instead of a relation, the
    /// relation turned around), so prompts in those forms are in distribution.
    public var alternativeCaptions: [String]
}

public struct QuestionSample: Sendable, Equatable {
    public var scene: Scene
    public var image: RGBImage
    public var question: VisualQuestion
    /// More questions about the same picture, asked after `question` in one conversation
    /// (`TaskData.questions(perPicture:)`); empty for one question per picture.
    public var followUps: [VisualQuestion] = []
}

/// An expert demonstration: `frames[k]` is what the gripper saw before `actions[k]`, the expert's
/// action there; the last frame is the final state (frames.count == actions.count + 1). In a noisy
/// demonstration the gripper sometimes did another action (`executed[k]`), so the frames show the
/// expert recovering from states its own path never visits.
public struct ActionEpisode: Sendable, Equatable {
    public var task: GripperTask
    public var instruction: String
    public var frames: [RGBImage]
    public var actions: [Action]
    /// What the gripper did after `frames[k]`: `actions` itself in a clean demonstration.
    public var executed: [Action]

    /// At each state, the expert's next `length` actions from there if nothing disturbed it (for
    /// a clean demonstration, its own next actions); the first is `actions[k]`.
    public func expertPlans(length: Int) -> [[Action]] {
        worlds().map { GripperExpert.solve(GripperTask(world: $0, instruction: task.instruction), maxSteps: length) }
    }

    /// The world before each action, replaying what the gripper did (`executed`): the state
    /// `frames[k]` pictures.
    public func worlds() -> [GripperWorld] {
        var world = task.world
        return executed.map { done in
            defer { world.step(done) }
            return world
        }
    }
}

public enum TaskData {
    public static func seed(_ split: DataSplit, _ tag: TaskTag, index: Int) -> UInt64 {
        precondition(index >= 0 && UInt64(index) < DataSplit.capacity, "sample index \(index) out of range")
        return split.firstSeed + UInt64(index) + (tag.rawValue << 48)
    }

    static func indices(_ start: Int, _ count: Int) -> Range<Int> { start..<(start + max(0, count)) }

    /// (caption, image) pairs; scene kinds drawn uniformly; object centres on multiples of
    /// `positionStep`.
    public static func captionedImages(_ split: DataSplit, start: Int = 0, count: Int,
                                       positionStep: Int = 1) -> [CaptionedImage] {
        indices(start, count).map { index in
            let scene = SceneGenerator.scene(seed: seed(split, .caption, index: index), positionStep: positionStep)
            return CaptionedImage(scene: scene, image: SceneRenderer.render(scene), caption: CaptionGrammar.caption(scene),
                                  alternativeCaptions: CaptionGrammar.alternativeCaptions(scene))
        }
    }

    /// (image, question, answer) triples; question kinds drawn uniformly among those the scene allows.
    /// With `perPicture` above 1, each picture also gets up to `perPicture - 1` different follow-up
    /// questions, drawn from a stream of their own so that the scenes and first questions are the
    /// same whatever `perPicture` is.
    public static func questions(_ split: DataSplit, start: Int = 0, count: Int,
                                 positionStep: Int = 1, perPicture: Int = 1) -> [QuestionSample] {
        indices(start, count).map { index in
            var rng = SeededRandom(seed: seed(split, .question, index: index), stream: 7)
            let kind = rng.element(of: SceneKind.allCases)
            let scene = SceneGenerator.scene(kind: kind, positionStep: positionStep, using: &rng)
            let question = QuestionGenerator.question(about: scene, using: &rng)
            var sample = QuestionSample(scene: scene, image: SceneRenderer.render(scene), question: question)
            if perPicture > 1 {
                var more = SeededRandom(seed: seed(split, .question, index: index), stream: 8)
                sample.followUps = QuestionGenerator.followUps(about: scene, count: perPicture - 1, asked: question, using: &more)
            }
            return sample
        }
    }

    public static func videoClips(_ split: DataSplit, start: Int = 0, count: Int,
                                  frameCount: Int = VideoSimulator.defaultFrameCount) -> [VideoClip] {
        indices(start, count).map { VideoSimulator.clip(seed: seed(split, .video, index: $0), frameCount: frameCount) }
    }

    /// Start states and instructions, for closed-loop evaluation.
    public static func actionTasks(_ split: DataSplit, start: Int = 0, count: Int) -> [GripperTask] {
        indices(start, count).map { GripperExpert.task(seed: seed(split, .action, index: $0)) }
    }

    /// Expert demonstrations of the same tasks `actionTasks` returns; with `noise` above 0, noisy
    /// ones (`noisyDemonstration`, each from its task's seed).
    public static func actionEpisodes(_ split: DataSplit, start: Int = 0, count: Int, noise: Double = 0) -> [ActionEpisode] {
        indices(start, count).map { index in
            let taskSeed = seed(split, .action, index: index)
            let task = GripperExpert.task(seed: taskSeed)
            return noise > 0 ? noisyDemonstration(task, noise: noise, seed: taskSeed) : demonstration(task)
        }
    }

    public static func demonstration(_ task: GripperTask) -> ActionEpisode {
        var world = task.world
        var frames = [world.render()]
        let actions = GripperExpert.solve(task)
        for action in actions {
            world.step(action)
            frames.append(world.render())
        }
        return ActionEpisode(task: task, instruction: task.instruction.text, frames: frames, actions: actions, executed: actions)
    }

    /// The expert's actions on the states of a disturbed run (DART, Laskey et al. 2017): at each
    /// step, with probability `noise`, the gripper makes a random move, grasp or release instead of
    /// the expert's action, which stays the label. A policy cloned from clean demonstrations never
    /// sees a state off the expert's path (a gripper closed on nothing, an object dropped short of
    /// its goal), and in closed loop its first mistake leads to one; these episodes show the way
    /// back. Ends when the expert stops or after `maxSteps`.
    public static func noisyDemonstration(_ task: GripperTask, noise: Double, seed: UInt64, maxSteps: Int = 64) -> ActionEpisode {
        var rng = SeededRandom(seed: seed, stream: 11)
        let disturbances: [Action] = [.up, .down, .left, .right, .grasp, .release]
        var world = task.world
        var frames = [world.render()]
        var actions: [Action] = []
        var executed: [Action] = []
        while !world.isDone && actions.count < maxSteps {
            let expert = GripperExpert.action(in: world, for: task.instruction)
            // The draw is made on every step, so an episode's disturbances do not depend on the expert's path.
            let disturbed = rng.unit() < noise
            let action = disturbed && expert != .stop ? rng.element(of: disturbances) : expert
            actions.append(expert)
            executed.append(action)
            world.step(action)
            frames.append(world.render())
        }
        return ActionEpisode(task: task, instruction: task.instruction.text, frames: frames, actions: actions, executed: executed)
    }

    /// GenEval-style prompts, `perCategory` of each category.
    public static func genEvalPrompts(_ split: DataSplit, perCategory: Int) -> [GenEvalPrompt] {
        GenEvalPrompt.promptSet(perCategory: perCategory, firstSeed: seed(split, .genEval, index: 0))
    }
}

extension CaptionGrammar {
    /// True captions of `scene` other than the canonical one.
    public static func alternativeCaptions(_ scene: Scene) -> [String] {
        let canonical = SceneSpec(describing: scene)
        var specs: [SceneSpec] = []
        var sizeless = canonical
        for i in sizeless.groups.indices { sizeless.groups[i].size = nil }
        specs.append(sizeless)
        if let relation = canonical.relation {
            specs.append(SceneSpec(groups: canonical.groups.reversed(), relation: relation.opposite))
            specs.append(SceneSpec(groups: canonical.groups))
        }
        let captions = specs.map(caption)
        let canonicalText = caption(canonical)
        var seen: Set<String> = [canonicalText]
        return captions.filter { seen.insert($0).inserted }
    }
}
