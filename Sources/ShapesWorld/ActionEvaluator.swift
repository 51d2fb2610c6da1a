import EmuIO

// Closed-loop success rate of any policy on gripper tasks. The policy is a closure, so a model plugs
// in the same way as the scripted expert: it sees the instruction, the rendered frame and its own
// past actions (and, for scripted policies only, the true state).

public struct ActionObservation: Sendable {
    /// Index of the episode in the evaluated task list (lets a stateful policy reset).
    public var episode: Int
    public var step: Int
    public var instruction: GripperInstruction
    public var instructionText: String
    /// The current state as the model sees it.
    public var image: RGBImage
    public var previousActions: [Action]
    /// Ground truth, for scripted baselines; a learned policy must not read it.
    public var world: GripperWorld
}

public struct ActionEvaluation: Sendable, Hashable, Codable {
    public var successRate: Double
    public var successes: Int
    public var episodes: Int
    /// Mean number of actions taken per episode.
    public var meanSteps: Double
    /// Share of steps at which the policy chose what the scripted expert would have chosen in the
    /// same state: how far per-step errors, compounded over an episode, explain the success rate.
    public var expertAgreement: Double
    /// The same share, split by the expert's decision: where the policy errs.
    public var expertAgreementByDecision: [GripperDecision: Double]
}

/// Behaviour-cloning accuracy: the policy on the states of the expert's own held-out episodes (so
/// no earlier mistake of the policy changes what it sees), scored against the expert's action.
public struct ExpertStateAccuracy: Sendable, Hashable, Codable {
    public var accuracy: Double
    public var byDecision: [GripperDecision: Double]
    public var states: Int
    public var statesByDecision: [GripperDecision: Int]
    /// For a model that writes where things are before acting (`GripperSituation`): the share of
    /// states where what it wrote is right, per part ("gripper": its cell and whether closed,
    /// "target", "goal") and as a whole ("all"); nil for a model that acts at once.
    public var situationAccuracy: [String: Double]? = nil
}

/// What the expert's action decides: a move toward the named object with the gripper open
/// (`approach`: find the object), a move while closed (`carry`: work out the goal from the
/// instruction), or grasp, release, stop.
public enum GripperDecision: String, CaseIterable, Sendable, Hashable, Codable, CodingKeyRepresentable {
    case approach, grasp, carry, release, stop

    public init(expert action: Action, in world: GripperWorld) {
        switch action {
        case .up, .down, .left, .right: self = world.isClosed ? .carry : .approach
        case .grasp: self = .grasp
        case .release: self = .release
        case .stop: self = .stop
        }
    }
}

public enum ActionEvaluator {
    public static let defaultStepLimit = 40

    /// How one closed-loop episode ended (what `evaluate` hands `episodeEnded`).
    public struct Episode: Sendable {
        public var index: Int
        public var task: GripperTask
        public var actions: [Action]
        public var succeeded: Bool
    }

    /// Runs every task until the policy says `stop` or `stepLimit` actions; success is judged on the
    /// final state.
    public static func evaluate(_ tasks: [GripperTask], stepLimit: Int = defaultStepLimit,
                                policy: (ActionObservation) throws -> Action) rethrows -> ActionEvaluation {
        try evaluate(tasks, stepLimit: stepLimit, policy: policy, episodeEnded: { _ in })
    }

    /// `evaluate`, handing `episodeEnded` each episode as it ends.
    public static func evaluate(_ tasks: [GripperTask], stepLimit: Int = defaultStepLimit,
                                policy: (ActionObservation) throws -> Action,
                                episodeEnded: (Episode) throws -> Void) rethrows -> ActionEvaluation {
        var successes = 0, steps = 0
        var tally = DecisionTally()
        for (episode, task) in tasks.enumerated() {
            var world = task.world
            var actions: [Action] = []
            while !world.isDone && actions.count < stepLimit {
                let observation = ActionObservation(episode: episode, step: actions.count, instruction: task.instruction,
                                                    instructionText: task.instruction.text, image: world.render(),
                                                    previousActions: actions, world: world)
                let action = try policy(observation)
                let expert = GripperExpert.action(in: world, for: task.instruction)
                tally.record(GripperDecision(expert: expert, in: world), agreed: action == expert)
                actions.append(action)
                world.step(action)
            }
            steps += actions.count
            let succeeded = task.instruction.isSatisfied(in: world)
            if succeeded { successes += 1 }
            try episodeEnded(Episode(index: episode, task: task, actions: actions, succeeded: succeeded))
        }
        let count = tasks.count
        return ActionEvaluation(successRate: count == 0 ? 0 : Double(successes) / Double(count), successes: successes,
                                episodes: count, meanSteps: count == 0 ? 0 : Double(steps) / Double(count),
                                expertAgreement: tally.share, expertAgreementByDecision: tally.shareByDecision)
    }

    /// Scores `policy` on every state of the expert's `episodes`.
    public static func expertStateAccuracy(_ episodes: [ActionEpisode],
                                           policy: (ActionObservation) throws -> Action) rethrows -> ExpertStateAccuracy {
        var tally = DecisionTally()
        for (index, episode) in episodes.enumerated() {
            var world = episode.task.world
            for (step, expert) in episode.actions.enumerated() {
                let observation = ActionObservation(episode: index, step: step, instruction: episode.task.instruction,
                                                    instructionText: episode.instruction, image: episode.frames[step],
                                                    previousActions: Array(episode.actions.prefix(step)), world: world)
                tally.record(GripperDecision(expert: expert, in: world), agreed: try policy(observation) == expert)
                world.step(expert)
            }
        }
        return ExpertStateAccuracy(accuracy: tally.share, byDecision: tally.shareByDecision,
                                   states: tally.asked.values.reduce(0, +), statesByDecision: tally.asked)
    }

    /// The scripted expert as a policy (the harness's sanity baseline: 100%).
    public static func expertPolicy(_ observation: ActionObservation) -> Action {
        GripperExpert.action(in: observation.world, for: observation.instruction)
    }
}

/// Counts of the policy agreeing with the expert, per decision.
struct DecisionTally {
    private(set) var asked: [GripperDecision: Int] = [:]
    private(set) var agreed: [GripperDecision: Int] = [:]

    mutating func record(_ decision: GripperDecision, agreed isAgreed: Bool) {
        asked[decision, default: 0] += 1
        if isAgreed { agreed[decision, default: 0] += 1 }
    }

    var share: Double {
        let total = asked.values.reduce(0, +)
        return total == 0 ? 0 : Double(agreed.values.reduce(0, +)) / Double(total)
    }

    var shareByDecision: [GripperDecision: Double] {
        asked.reduce(into: [:]) { shares, entry in shares[entry.key] = Double(agreed[entry.key, default: 0]) / Double(entry.value) }
    }
}

/// Runs a policy that predicts several actions at once (an action chunk) closed loop: the first
/// `executed` actions of each prediction are taken without looking again (ACT-style open-loop
/// chunk execution), then it predicts anew. A new episode drops what was left of the last chunk.
public struct ChunkedPolicy: Sendable {
    public let executed: Int
    private var planned: [Action] = []
    private var episode = -1

    /// `executed` below 1 counts as 1 (a prediction at every step).
    public init(executed: Int) { self.executed = max(1, executed) }

    /// The next action; `predict` is asked only when the current chunk is used up. An empty
    /// prediction counts as `stop`.
    public mutating func action(for observation: ActionObservation,
                                predict: (ActionObservation) throws -> [Action]) rethrows -> Action {
        if observation.episode != episode || observation.step == 0 { planned = []; episode = observation.episode }
        if planned.isEmpty { planned = Array(try predict(observation).prefix(executed)) }
        guard !planned.isEmpty else { return .stop }
        return planned.removeFirst()
    }
}
