"""The words coding agents send about themselves: tool, product and model names.

Every request a coding agent makes carries its system prompt and its list of tools, and the
conversation talks about them ("use the Edit tool", "Hooks run shell commands", "Claude Opus").
Several are also first names or towns in the word lists (Edit, Link, Claude, Shell, Hooks):
here they are the agent's vocabulary, never a person or a place. The cost: a person called
Edit or Link is not found by the word lists alone (a key, a cue or a surname still finds them).
"""

from __future__ import annotations

# Tools of Claude Code, Codex CLI and Gemini CLI as the model sees them (their single-word
# names; CamelCase and snake_case names are never read as names anyway), and the product
# features their prompts describe.
TOOL_WORDS = frozenset(
    """
    read write edit multiedit bash glob grep ls task todowrite webfetch websearch notebookedit
    notebookread exitplanmode bashoutput killshell slashcommand skill agent shell apply_patch
    update_plan hooks hook link links plan explore statusline output memory memories
    subagent subagents mcp sandbox approval approvals checkpoint checkpoints worktree
    """.split()
)
# Assistants, vendors and model families ("Hi Claude", "Claude Opus 4.1", "Gemini Flash").
PRODUCT_WORDS = frozenset(
    """
    claude anthropic opus sonnet haiku instant code codex openai chatgpt gpt copilot gemini
    bard flash pro ultra nano lite cursor windsurf cline aider devin grok llama mistral
    mixtral deepseek qwen kimi moonshot glm o1 o3 o4 mini
    """.split()
)
AGENT_WORDS = TOOL_WORDS | PRODUCT_WORDS
# Words that follow an assistant's name in the name of a product or feature ("Claude Platform",
# "Claude Managed Agents", "Gemini Code Assist"). Alone they may be names (Max), so they count
# only after an assistant's name.
PRODUCT_NOUNS = frozenset(
    """
    desktop platform tag managed agents console api app apps cli sdk workbench artifacts projects
    chrome extension mobile web skills team teams enterprise max turbo vision studio assistant
    assist developer developers docs cloud for
    """.split()
)


def names_a_product(words: list[str]) -> bool:
    """An assistant's name alone or followed by product words and version numbers ("Claude",
    "Claude Opus 4.1", "Claude Managed Agents"); "Claude Monet" is a person."""
    if not words or words[0].lower() not in PRODUCT_WORDS:
        return False
    return all(word.lower() in AGENT_WORDS or word.lower() in PRODUCT_NOUNS or word[:1].isdigit() for word in words[1:])
