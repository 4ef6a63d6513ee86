import ArgumentParser
import ConfabClient
import Foundation

/// The messages an integration run sends: for each agent template a few prompts that suit it,
/// so that a real model is asked what that agent is for. A template without prompts here uses
/// its own opening topics, then the generic prompts. `--topics FILE` replaces the table with a
/// JSON object of template id → prompts, `"*"` for every template it does not name (tests use
/// it to put the test upstream's `[[fault=…]]` directives in chosen turns).
struct TopicTable: Sendable {
    var prompts: [String: [String]]

    static let generic = [
        "Hello! What can you help me with today?",
        "Can you explain that in simpler words?",
        "Give me one practical example.",
        "What would you suggest as a next step?",
        "Thanks! Can you sum it up in two sentences?",
    ]

    static let builtIn = TopicTable(prompts: [
        "friendly-assistant": ["Plan a relaxed weekend trip for two.", "Ideas for a birthday gift for my sister?",
                               "Recommend a feel-good book.", "How can I make Monday mornings nicer?",
                               "Suggest a fun activity for a rainy afternoon."],
        "professional-expert": ["Draft a short project risk register for a website launch.",
                                "Compare pay-as-you-go and reserved cloud pricing.", "What are a small company's main GDPR duties?",
                                "How should I structure a quarterly business review?", "List the key clauses of a service contract."],
        "creative-partner": ["Name my seaside coffee shop.", "Start a short story about a lighthouse keeper.",
                             "Three slogans for a bicycle repair shop.", "Ideas for a poster about recycling.",
                             "Describe a city built in the clouds."],
        "caring-friend": ["I had a rough day at work.", "How do I stay motivated when progress is slow?",
                          "Help me relax before an exam.", "I feel lonely after moving to a new city.",
                          "How can I be kinder to myself?"],
        "efficient-assistant": ["Checklist for moving house.", "Quick dinner idea with eggs and spinach.",
                                "Three steps to clear my inbox.", "Packing list for a two-day business trip.",
                                "Summarise the benefits of walking in three bullets."],
        "assistant": ["Plan my week around three deadlines.", "Explain how interest rates affect mortgages.",
                      "Write a polite email declining a meeting.", "How do I start a vegetable garden?"],
        "teacher": ["How do fractions work?", "Explain photosynthesis simply.", "Quiz me on European capitals.",
                    "Why is the sky blue?"],
        "programmer": ["How do I reverse a list in Swift?", "What is a race condition?",
                       "When should I use an index in SQL?", "Explain async/await in two paragraphs."],
        "scout": ["Which agent helps with money?", "What time is it in UTC?", "Which agent would help me write a story?"],
        "advisor": ["How should I price handmade candles?", "Plan a small marketing budget.",
                    "Should I take a loan to buy equipment?", "How do I read a cash-flow statement?"],
    ])

    /// The prompt of the 0-based `turn` for the 0-based `user`: users start at different places
    /// in the list, so conversations with the same template do not all say the same thing.
    func prompt(for template: AgentTemplate, turn: Int, user: Int) -> String {
        let list = prompts[template.id] ?? prompts["*"] ?? nonEmpty(template.openingTopics) ?? Self.generic
        return list[(turn + user) % list.count]
    }

    private func nonEmpty(_ list: [String]) -> [String]? {
        list.isEmpty ? nil : list
    }

    /// A table read from a JSON file: `{"<template id>": ["prompt", …], "*": [...]}`.
    init(contentsOf path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("--topics: cannot read \(path): \(error.localizedDescription)")
        }
        guard let table = try? JSONDecoder().decode([String: [String]].self, from: data),
              table.values.allSatisfy({ !$0.isEmpty && $0.allSatisfy { !$0.isEmpty } }) else {
            throw ValidationError("--topics: \(path) must be a JSON object of template id → non-empty list of prompts")
        }
        prompts = table
    }

    init(prompts: [String: [String]]) {
        self.prompts = prompts
    }
}
