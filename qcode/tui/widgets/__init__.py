"""The TUI's widgets: the conversation with its turn views and tool cards, the plan, the status bar."""

from qcode.tui.widgets.conversation import Conversation, ToolCard, TurnView
from qcode.tui.widgets.panels import PlanPanel, StatusBar, TopBar

__all__ = ["Conversation", "PlanPanel", "StatusBar", "ToolCard", "TopBar", "TurnView"]
