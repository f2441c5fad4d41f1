"""The interactive front door: `qcode tui` (and bare `qcode` in a terminal)."""

from qcode.tui.app import QcodeApp
from qcode.tui.approval import ApprovalGate, Decision

__all__ = ["ApprovalGate", "Decision", "QcodeApp"]
