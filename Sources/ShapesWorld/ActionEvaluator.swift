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
}

public enum ActionEvaluator {
    public static let defaultStepLimit = 40

    /// Runs every task until the policy says `stop` or `stepLimit` actions; success is judged on the
    /// final state.
    public static func evaluate(_ tasks: [GripperTask], stepLimit: Int = defaultStepLimit,
                                policy: (ActionObservation) throws -> Action) rethrows -> ActionEvaluation {
        var successes = 0, steps = 0
        for (episode, task) in tasks.enumerated() {
            var world = task.world
            var actions: [Action] = []
            while !world.isDone && actions.count < stepLimit {
                let observation = ActionObservation(episode: episode, step: actions.count, instruction: task.instruction,
                                                    instructionText: task.instruction.text, image: world.render(),
                                                    previousActions: actions, world: world)
                let action = try policy(observation)
                actions.append(action)
                world.step(action)
            }
            steps += actions.count
            if task.instruction.isSatisfied(in: world) { successes += 1 }
        }
        let count = tasks.count
        return ActionEvaluation(successRate: count == 0 ? 0 : Double(successes) / Double(count), successes: successes,
                                episodes: count, meanSteps: count == 0 ? 0 : Double(steps) / Double(count))
    }

    /// The scripted expert as a policy (the harness's sanity baseline: 100%).
    public static func expertPolicy(_ observation: ActionObservation) -> Action {
        GripperExpert.action(in: observation.world, for: observation.instruction)
    }
}
