"""The operations console: hosts the proxy in its own event loop and shows every flow live.

One bridge: the engine publishes events into a bounded bus; this app drains its
subscription on a timer and applies the batch inside ``batch_update()``. Nothing in the
request path awaits the UI, and no widget is touched per token.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import gc
import os
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from textual import events, on, work
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, TabbedContent, TabPane

from tui_proxy.core import logbridge
from tui_proxy.core.bus import EventBus
from tui_proxy.core.engine import Engine
from tui_proxy.sdk.runner import sdk_engine
from tui_proxy.core.events import FlowFailed, Note, SettingsApplied
from tui_proxy.core.flow import Flow
from tui_proxy.sdk.login import PROXY_LOGIN
from tui_proxy.http.server import ProxyServer
from tui_proxy.config.settings import Settings, SettingsError, load_settings
from tui_proxy.console.commands import ConsoleCommands
from tui_proxy.console.export import (KEEP_BODIES, RecentBodies, curl_command, flow_record,
                                      response_text)
from tui_proxy.console.model import ConsoleModel, StreamLine
from tui_proxy.console.screens.confirm import Confirm
from tui_proxy.console.screens.detail import FlowDetail
from tui_proxy.console.screens.help import HelpScreen
from tui_proxy.console.widgets.checks_panel import ChecksPanel
from tui_proxy.console.widgets.event_panel import EventPanel, local_clock
from tui_proxy.console.widgets.flows_table import FlowsTable
from tui_proxy.console.widgets.sessions_panel import SessionsPanel
from tui_proxy.journal.writer import loss_of, loss_text
from tui_proxy.console.widgets.status_bar import StatusBar, StatusFacts
from tui_proxy.console.widgets.stream_panel import StreamPanel

FOOTER_FULL_WIDTH = 120
NARROW_HIDDEN = frozenset({"cancel-all", "toggle-stream-all", "clear-panel", "login",
                           "screenshot"})
PANELS = ("stream", "files", "tools", "aborts", "stderr", "sessions", "log", "doctor")
PANEL_TITLES = {"stream": "Stream", "files": "Files", "tools": "Tools", "aborts": "Aborts",
                "stderr": "Stderr", "sessions": "Sessions", "log": "Log", "doctor": "Doctor"}
DRAIN_HZ = 5
DRAIN_LIMIT = 50_000
LOGIN_RECHECK_S = 300  # the status bar's login state is asked again this often


def default_screenshot_dir() -> Path:
    from tui_proxy.config.locations import screenshot_dir
    return screenshot_dir()


class ProxyConsole(App[int]):
    CSS_PATH = Path(__file__).parent / "console.tcss"
    TITLE = "claude-proxy-tui"
    AUTO_FOCUS = "#flows"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDING_GROUP_TITLE = "Console"
    # Classes on the screen by size: console.tcss lays a short terminal out differently.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("c", "cancel_flow", "Cancel", id="cancel-flow",
                tooltip="Cancel the selected flow (asks first)"),
        Binding("C", "cancel_all", "Cancel all", id="cancel-all",
                tooltip="Cancel every in-flight and parked flow (asks first)"),
        Binding("r", "reload_settings", "Reload", id="reload-settings",
                tooltip="Re-read the settings file and environment and apply them"),
        Binding("enter", "open_detail", "Detail", id="open-detail", show=False,
                tooltip="Open the selected flow: request, options, timeline, response"),
        Binding("slash", "filter", "Filter", id="filter-flows",
                tooltip="Filter flows by text (Esc clears)"),
        Binding("escape", "clear_filter", "Clear filter", id="clear-filter", show=False,
                tooltip="Clear the flow filter"),
        Binding("e", "toggle_errors", "Errors", id="errors-only", show=False,
                tooltip="Show only flows that failed (errors, time-outs); again: all"),
        Binding("f", "toggle_follow", "Follow", id="toggle-follow",
                tooltip="Keep the newest flow selected"),
        Binding("a", "toggle_stream_all", "All/one", id="toggle-stream-all",
                tooltip="Stream panel: the selected flow or all flows"),
        Binding("z", "clear_panel", "Clear", id="clear-panel",
                tooltip="Clear the log of the panel on show"),
        Binding("y", "copy_text", "Copy text", id="copy-text", show=False,
                tooltip="Copy the selected flow's response text to the clipboard"),
        Binding("Y", "copy_curl", "Copy curl", id="copy-curl", show=False,
                tooltip="Copy the selected flow's request as a curl command"),
        Binding("x", "export_flow", "Export", id="export-flow", show=False,
                tooltip="Save the selected flow as JSON beside the screenshots (and copy it)"),
        Binding("s", "shot", "Shot", id="screenshot",
                tooltip="Save a screenshot (SVG and PNG) to the folder the status bar names"),
        Binding("L", "login", "Log in", id="login",
                tooltip="Suspend the console and run the login of the CLI this proxy drives "
                        "(claude-proxy-tui login); the proxy keeps serving"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Keys and panels"),
        Binding("q", "quit_console", "Quit", id="quit",
                tooltip="Quit (asks when flows are in flight; cancels them)"),
        *[Binding(str(i + 1), f"show_panel('{name}')", PANEL_TITLES[name], show=False,
                  id=f"panel-{name}", tooltip=f"Show the {PANEL_TITLES[name]} panel")
          for i, name in enumerate(PANELS)],
    ]

    def __init__(self, settings: Settings, *, config_file: str | None = None,
                 flags: Mapping[str, Any] | None = None, engine: Engine | None = None,
                 bus: EventBus | None = None, start_server: bool = True,
                 run_doctor: bool = True, clock: Callable[[], float] = time.time,
                 clock_format: Callable[[float], str] = local_clock,
                 screenshot_dir: Path | None = None, drain_hz: float = DRAIN_HZ) -> None:
        super().__init__()
        self.bus = bus or (engine.bus if engine else EventBus())
        self.engine = engine or sdk_engine(settings, self.bus)
        self.server = ProxyServer(self.engine)
        self.config_file = config_file
        self.flags = dict(flags or {})
        self.start_server = start_server
        self.run_doctor = run_doctor
        self.clock = clock
        self.clock_format = clock_format
        self.screenshot_dir = screenshot_dir or default_screenshot_dir()
        self.drain_hz = drain_hz
        self.model = ConsoleModel(clock)
        self.bodies = RecentBodies()  # for copy as curl
        self.engine.body_hooks.append(self.bodies)
        self.sub = self.bus.subscribe(maxlen=200_000, name="console")
        self.follow = True
        self.selected: int | None = None
        self.login = "checking…" if run_doctor else "not checked"
        self.url = "(not listening)"
        self._log_handler: Any = None
        self._last_shot: str | None = None

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Vertical(id="flows-box"):
            yield FlowsTable(id="flows")
            yield Input(placeholder="filter flows: words to match (Enter keeps, Esc clears)",
                        id="filter")
        with TabbedContent(id="panels", initial="stream"):
            for name in PANELS:
                with TabPane(f"{PANELS.index(name) + 1} {PANEL_TITLES[name]}", id=name):
                    yield self._panel_widget(name)
        yield Footer()

    def _panel_widget(self, name: str):
        if name == "stream":
            return StreamPanel(id="panel-stream")
        if name == "sessions":
            return SessionsPanel(id="panel-sessions")
        if name == "doctor":
            return ChecksPanel(id="panel-doctor")
        return EventPanel(name, self.clock_format, id=f"panel-{name}")

    def on_resize(self, event: events.Resize) -> None:
        self._fit_footer(event.size.width)

    def _fit_footer(self, width: int) -> None:
        """On a narrow terminal the footer keeps the keys people look for (? Help, q Quit):
        the others leave it, and stay in ? help and the palette."""
        show = width >= FOOTER_FULL_WIDTH
        changed = False
        for bindings in self._bindings.key_to_bindings.values():
            for i, binding in enumerate(bindings):
                if binding.id in NARROW_HIDDEN and binding.show != show:
                    bindings[i] = dataclasses.replace(binding, show=show)
                    changed = True
        if changed:
            self.refresh_bindings()

    async def on_mount(self) -> None:
        self._apply_keymap()
        self.query_one("#flows-box").border_title = "Flows"
        self.query_one("#filter", Input).display = False
        # Logging goes to the bus, never to the terminal's stderr under the screen.
        self._log_handler = logbridge.install(self.bus, self.engine.settings.debug,
                                             self.engine.settings.log_level)
        if self.start_server:
            try:
                await self.server.start()
            except OSError as exc:
                self.exit(2, message=f"claude-proxy-tui: {exc}")
                return
            self.url = self.server.url
        self.sub_title = self.where
        self.set_interval(1 / self.drain_hz, self.drain)
        self.set_interval(1.0, self.slow_tick)
        if self.run_doctor:
            self.doctor()
            # A login can expire or be made elsewhere: the bar must not keep a stale answer.
            self.set_interval(LOGIN_RECHECK_S, self.recheck_login)
        self.drain()
        gc.collect()
        gc.freeze()  # long-lived widgets leave the collector's generations: shorter pauses

    async def on_unmount(self) -> None:
        if self.start_server:
            await self.server.stop()
        else:
            await self.engine.shutdown()
        self.bus.unsubscribe(self.sub)
        if self._log_handler is not None:
            logbridge.uninstall(self._log_handler)

    # -- the bridge ---------------------------------------------------------------------

    def drain(self) -> None:
        """Apply what the engine published since the last tick, in one screen update."""
        if not self.is_running:
            return
        events = self.sub.drain(DRAIN_LIMIT)
        if self.run_doctor and any(isinstance(e, FlowFailed)
                                   and e.error_type == "authentication_error" for e in events):
            self.recheck_login()
        lost = self.sub.take_dropped()
        if lost:  # said where the user looks, not only in /metrics
            events.append(Note(None, "warning", f"the console fell behind and lost {lost} "
                                                "events (the flows table and panels miss them)"))
        self.model.apply(events)
        with self.batch_update():
            self._sync_flows(self.model.take_touched())
            self._sync_stream()
            for name in ("files", "tools", "aborts", "stderr", "log"):
                entries = self.model.take_panel(name)
                if entries:
                    self.query_one(f"#panel-{name}", EventPanel).add(entries)
            self._sync_status()

    def slow_tick(self) -> None:
        if not self.is_running:
            return
        with self.batch_update():
            self._sync_flows(set())
            self.query_one(SessionsPanel).sync(self.engine)
            self._sync_status()

    def _live_tokens(self, flow_id: int) -> int:
        text = self.model.texts.get(flow_id)
        return text.deltas if text else 0

    def _sync_flows(self, touched: set[int]) -> None:
        table = self.query_one(FlowsTable)
        added = table.sync(self.engine.flows.all(), self._live_tokens, self.clock())
        if added and self.follow:
            table.follow_latest()
        current = table.selected_flow_id
        if current != self.selected:
            self._select(current)

    def _select(self, flow_id: int | None) -> None:
        self.selected = flow_id
        panel = self.query_one(StreamPanel)
        if not panel.all_flows:
            text = self.model.texts.get(flow_id) if flow_id is not None else None
            panel.show(flow_id, list(text.lines) if text else [])
        self._update_stream_title()

    def _sync_stream(self) -> None:
        panel = self.query_one(StreamPanel)
        lines = self.model.take_new_lines()
        if lines:
            panel.append(lines)
        panel.set_typing(self.model.pending_line(self.selected)
                         if self.selected is not None and not panel.all_flows else None)

    def _update_stream_title(self) -> None:
        self.query_one("#panels", TabbedContent).get_tab("stream").label = \
            f"1 Stream: {self.query_one(StreamPanel).title()}"

    @property
    def where(self) -> str:
        """The URL and, when listening on one, the Unix socket (status bar, title)."""
        path = self.server.socket_path if self.start_server else None
        return self.url + (f" and unix:{path}" if path else "")

    def facts(self) -> StatusFacts:
        engine, settings = self.engine, self.engine.settings
        cli = engine.cli
        version = (cli.version or "?").split(" ")[0]
        cli_text = f"{cli.path or 'not found'} {version}"
        return StatusFacts(
            url=self.where, mode=settings.mode, permission_mode=settings.permission_mode,
            cwd=settings.cwd, cli=cli_text, login=self.login, in_flight=engine.in_flight,
            queued=engine.queued, per_minute=self.model.requests_per_minute(),
            parked=len(engine.parked), warm=len(engine.pool),
            mcp_timeout_s=(settings.parked_timeout_ms + 60_000) / 1000, rate=self.model.rate,
            now=self.clock(), follow=self.follow,
            stream_all=self.query_one(StreamPanel).all_flows,
            filter_text=self.query_one(FlowsTable).filter_text,
            screenshots=str(self.screenshot_dir), note=self._last_shot,
            journal=loss_text(loss_of(engine)))

    def _sync_status(self) -> None:
        self.query_one(StatusBar).show(self.facts())

    # -- doctor -------------------------------------------------------------------------

    @work(exclusive=True, group="doctor", exit_on_error=False)
    async def doctor(self) -> None:
        from tui_proxy.host.doctor import PASS, Check, check_settings, run_checks

        settings = self.engine.settings
        given = {name: value for name, value in self.flags.items() if value is not None}
        # Check what runs, not the defaults: the running settings, then what the user gave.
        flags = {name: getattr(settings, name) for name in (
            "host", "port", "cwd", "cli_path", "mode", "permission_mode", "api_key")
            if getattr(settings, name, None) is not None}
        flags.update(given)
        if self.start_server and self.server.port:
            flags["port"] = self.server.port
        try:
            checks = await run_checks(flags, self.config_file, os.environ, timeout=10)
            # Those running values are no flags of the user's: count where settings came from
            # with only the flags given.
            real = check_settings(given, self.config_file, os.environ)[0]
            checks = [real if c.name == "settings" else c for c in checks]
        except Exception as exc:  # a check that breaks must not take the console down
            self.query_one(ChecksPanel).show_error(f"checks failed to run: {exc!r}")
            self.login = "unknown"
            return
        if self.start_server:  # the port is ours now: say so instead of "in use"
            checks = [Check("port", PASS, f"listening on {self.url}") if c.name == "port"
                      else c for c in checks]
        self.query_one(ChecksPanel).show(checks)
        self._show_login(next((c for c in checks if c.name == "logged in"), None))

    def _show_login(self, check) -> None:
        self.login = {"PASS": "yes", "FAIL": f"NO → {PROXY_LOGIN}"}.get(
            check.status, "unknown") if check else "unknown"
        self._sync_status()

    @work(exclusive=True, group="login", exit_on_error=False)
    async def recheck_login(self) -> None:
        """Ask the CLI the proxy drives, with the environment it gets, whether it is logged in."""
        from tui_proxy.host.doctor import check_login

        try:
            self._show_login(await check_login(self.engine.cli, os.environ, timeout=10))
        except Exception:  # noqa: BLE001 - a failed probe leaves the state unknown
            self._show_login(None)

    async def action_login(self) -> None:
        """The CLI's own login, in this terminal, while the proxy keeps serving."""
        from tui_proxy.sdk.login import auth_commands, cli_environment

        path = self.engine.cli.path
        commands = await auth_commands(path) if path and not self.engine.cli.error else None
        if path is None or commands is None:
            self.notify(f"No login command found for the CLI ({path}); run "
                        f"`{PROXY_LOGIN}` in a terminal.", severity="error", timeout=10)
            return
        try:
            with self.suspend():
                proc = await asyncio.create_subprocess_exec(path, *commands.login,
                                                            env=cli_environment())
                await proc.wait()
        except SuspendNotSupported:
            self.notify(f"This terminal cannot hand over to the login: run `{PROXY_LOGIN}` "
                        "in another terminal.", severity="warning", timeout=10)
            return
        self.recheck_login()

    # -- actions ------------------------------------------------------------------------

    def _selected_flow(self):
        flow_id = self.query_one(FlowsTable).selected_flow_id
        return self.engine.flows.get(flow_id) if flow_id is not None else None

    def _flow_in_view(self) -> Flow | None:
        """The flow a copy key means: the open detail's, else the selected row's."""
        if isinstance(self.screen, FlowDetail):
            return self.screen.flow
        flow = self._selected_flow()
        if flow is None:
            self.notify("No flow selected.", severity="warning")
        return flow

    def action_copy_text(self) -> None:
        flow = self._flow_in_view()
        if flow is not None:
            text = response_text(self._flow_lines(flow.id))
            self.copy_to_clipboard(text)
            self.notify(f"Copied flow #{flow.id}'s response ({len(text):,} characters).")

    def action_copy_curl(self) -> None:
        flow = self._flow_in_view()
        if flow is None:
            return
        body = self.bodies.get(flow.id)
        if body is None:
            self.notify(f"Flow #{flow.id}'s request is no longer held (the console keeps the "
                        f"last {KEEP_BODIES}); `claude-proxy-tui replay {flow.id}` re-sends it "
                        "from the journal.", severity="warning", timeout=8)
            return
        self.copy_to_clipboard(curl_command(self.url, flow, body,
                                            bool(self.engine.settings.api_key)))
        self.notify(f"Copied flow #{flow.id}'s request as a curl command (secrets redacted).")

    def action_export_flow(self) -> None:
        flow = self._flow_in_view()
        if flow is None:
            return
        record = flow_record(flow, self._flow_lines(flow.id), self.bodies.get(flow.id))
        text = json.dumps(record, ensure_ascii=False, indent=2, default=str)
        folder = self.screenshot_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"flow-{flow.id}-{time.strftime('%Y%m%d-%H%M%S')}.json"
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not save flow #{flow.id}: {exc}", severity="error")
            return
        self.copy_to_clipboard(text)
        self.notify(f"Flow #{flow.id} saved to {path} (and copied).")

    def action_cancel_flow(self) -> None:
        flow = self._selected_flow()
        if flow is None:
            self.notify("No flow selected.", severity="warning")
            return
        if flow.state.terminal:
            self.notify(f"Flow #{flow.id} already ended ({flow.state.value}).")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                done = self.engine.cancel(flow.id, "operator")
                self.notify(f"Cancelled flow #{flow.id}." if done
                            else f"Flow #{flow.id} could not be cancelled (it ended).")

        self.push_screen(Confirm(f"Cancel flow #{flow.id} ({flow.model}, "
                                 f"{flow.state.value}, {flow.elapsed_s:.0f} s)?\n"
                                 "The client gets a clean 'cancelled' error."), answer)

    def action_cancel_all(self) -> None:
        count = len(self.engine.flows.active)
        if not count:
            self.notify("Nothing in flight.")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.notify(f"Cancelled {self.engine.cancel_all('operator')} flow(s).")

        self.push_screen(Confirm(f"Cancel all {count} in-flight and parked flow(s)?"), answer)

    async def action_reload_settings(self) -> None:
        old = self.engine.settings
        try:
            new = load_settings(flags=self.flags, config_file=self.config_file)
        except SettingsError as exc:
            self.engine.publish(SettingsApplied(None, (), error=str(exc)))
            self.notify(f"Settings not reloaded, the old ones keep running:\n{exc}",
                        severity="error", timeout=10)
            return
        changed = self.engine.apply_settings(new)
        if {"host", "port", "socket"} & set(changed) and self.start_server:
            try:
                await self.server.rebind()
            except OSError as exc:
                self.engine.apply_settings(old)
                await self.server.rebind()
                self.notify(f"Could not listen on the new address: {exc}", severity="error")
                return
            self.url = self.server.url
            self.sub_title = self.where
        if "keymap" in changed:
            self._apply_keymap()
        self.notify("Settings reloaded: " + (", ".join(changed) or "nothing changed"))
        if self.run_doctor:
            self.recheck_login()

    def action_open_detail(self) -> None:
        self.drain()  # the detail shows everything published so far
        flow = self._selected_flow()
        if flow is None:
            return
        self.push_screen(FlowDetail(flow, lambda: self._flow_lines(flow.id)))

    def _flow_lines(self, flow_id: int) -> list[StreamLine]:
        """A flow's streamed text so far, its unfinished last line included."""
        text = self.model.texts.get(flow_id)
        lines = list(text.lines) if text else []
        pending = self.model.pending_line(flow_id)
        if pending:
            lines.append(pending)
        return lines

    @on(DataTable.RowSelected, "#flows")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        self.action_open_detail()

    @on(DataTable.RowHighlighted, "#flows")
    def _row_moved(self, event: DataTable.RowHighlighted) -> None:
        flow_id = int(event.row_key.value) if event.row_key.value is not None else None
        if flow_id != self.selected:
            self._select(flow_id)
        table = self.query_one(FlowsTable)
        if table.take_user_moved() and flow_id != table.newest_id:
            self.follow = False  # moving up through history stops following

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        table = self.query_one(FlowsTable)
        table.filter_text = event.value.strip()
        table.reset_rows()
        self._sync_flows(set())
        self._sync_status()

    @on(Input.Submitted, "#filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        self.query_one(FlowsTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display or box.value:
            box.value = ""
            box.display = False
            self.query_one(FlowsTable).focus()

    def action_toggle_errors(self) -> None:
        table = self.query_one(FlowsTable)
        table.errors_only = not table.errors_only
        table.reset_rows()
        self._sync_flows(set())
        self.notify("Only failed flows." if table.errors_only else "All flows.")

    def _apply_keymap(self) -> None:
        """The user's own keys by binding id (setting keymap); an unknown id is said, not
        ignored."""
        keymap = dict(self.engine.settings.keymap)
        unknown = sorted(set(keymap) - binding_ids())
        for name in unknown:
            del keymap[name]
        self.set_keymap(keymap)
        if unknown:
            message = (f"keymap: no binding with id {', '.join(unknown)} (the ids are listed "
                       "in ? help)")
            self.model.apply([Note(None, "warning", message)])
            self.notify(message, severity="warning")

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            self.query_one(FlowsTable).follow_latest()
        self._sync_status()
        self.notify(f"Follow {'on' if self.follow else 'off'}.")

    def action_toggle_stream_all(self) -> None:
        panel = self.query_one(StreamPanel)
        panel.all_flows = not panel.all_flows
        if panel.all_flows:
            panel.clear()
        else:
            self._select(self.selected)
        self._update_stream_title()
        self._sync_status()

    def action_show_panel(self, name: str) -> None:
        self.query_one("#panels", TabbedContent).active = name
        widget = self.query_one(f"#panel-{name}")
        target = widget.query_one("RichLog") if name == "stream" else widget
        target.focus()

    def action_clear_panel(self) -> None:
        name = self.query_one("#panels", TabbedContent).active
        if name in ("files", "tools", "aborts", "stderr", "log"):
            self.query_one(f"#panel-{name}", EventPanel).clear()
            self.model.clear_panel(name)
        elif name == "stream":
            self.query_one(StreamPanel).clear()
        self.notify(f"Cleared {PANEL_TITLES.get(name, name)}.")

    async def action_shot(self) -> None:
        folder = self.screenshot_dir
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        svg = Path(self.save_screenshot(filename=f"claude-proxy-tui-{stamp}.svg",
                                        path=str(folder)))
        try:
            import cairosvg
            png = svg.with_suffix(".png")
            await asyncio.to_thread(cairosvg.svg2png, url=str(svg), write_to=str(png))
            self._last_shot = f"saved {png.name}"
            self.notify(f"Screenshot saved: {svg}\nand {png}")
        except (ImportError, OSError) as exc:
            self._last_shot = f"saved {svg.name}"
            self.notify(f"Screenshot saved: {svg} (no PNG: {exc})", severity="warning")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS, dict(self.engine.settings.keymap)))

    async def action_quit(self) -> None:
        """ctrl+q and the palette's Quit ask as q does: they must not drop flows in flight."""
        self.action_quit_console()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Ours for Quit and Screenshot: the same confirmation and the same SVG + PNG as the keys.
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":
                yield SystemCommand("Screenshot", "Save an SVG and PNG of this screen",
                                    self.action_shot)
            else:
                yield command

    def action_quit_console(self) -> None:
        busy = len(self.engine.flows.active)
        if not busy:
            self.exit(0)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        self.push_screen(Confirm(f"{busy} flow(s) in flight or parked. Quit and cancel them?"),
                         answer)


def binding_ids() -> set[str]:
    """Every binding id the console has: what the keymap setting may name."""
    classes = (ProxyConsole, FlowsTable, FlowDetail, HelpScreen, Confirm)
    return {b.id for cls in classes for b in cls.BINDINGS
            if isinstance(b, Binding) and b.id}


def run_console(settings: Settings, *, config_file: str | None = None,
                flags: Mapping[str, Any] | None = None) -> int:
    app = ProxyConsole(settings, config_file=config_file, flags=flags)
    code = app.run()
    return code if isinstance(code, int) else 0
