"""Passthrough: the model is told the client's working directory, never the proxy's."""

import os

import anthropic

from conftest import read_log
from tui_proxy.sdk.workdir import client_workdir, neutral_workdir

MODEL = "claude-sonnet-5-5"
TOOLS = [{"name": "read", "description": "Read a file",
          "input_schema": {"type": "object", "properties": {"filePath": {"type": "string"}}}}]


def started_cwd(mark):
    (start,) = [e for e in read_log()[mark:] if e.get("event") == "start"]
    return start["cwd"]


def test_the_directory_a_client_prompt_names_is_found(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    opencode = (f"You are opencode.\n<env>\n  Working directory: {project}\n"
                "  Platform: linux\n</env>")
    claude_code = f"# Environment\n - Primary working directory: {project}\n - Is a git repository"
    assert client_workdir(opencode) == str(project)
    assert client_workdir(claude_code) == str(project)
    assert client_workdir(f"Working directory: {tmp_path / 'gone'}") is None
    assert client_workdir("Working directory: relative/path") is None
    assert client_workdir("no directory at all") is None


async def test_passthrough_runs_where_the_client_works(start_proxy, tmp_path):
    project = tmp_path / "client-project"
    project.mkdir()
    proxy = await start_proxy(cwd=str(tmp_path))
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    mark = len(read_log())
    await client.messages.create(
        model=MODEL, max_tokens=50, tools=TOOLS,
        system=f"You are a coding agent.\n<env>\n  Working directory: {project}\n</env>",
        messages=[{"role": "user", "content": "hi"}])
    assert started_cwd(mark) == str(project)


async def test_passthrough_without_a_named_directory_never_runs_in_the_proxys(start_proxy,
                                                                              tmp_path):
    proxy = await start_proxy(cwd=str(tmp_path))
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    mark = len(read_log())
    await client.messages.create(model=MODEL, max_tokens=50, tools=TOOLS,
                                 messages=[{"role": "user", "content": "hi"}])
    cwd = started_cwd(mark)
    assert cwd == neutral_workdir() and cwd != str(tmp_path)
    assert os.listdir(cwd) == [] and oct(os.stat(cwd).st_mode & 0o777) == "0o700"
    mark = len(read_log())
    await client.messages.create(model=MODEL, max_tokens=50,  # chat mode: the proxy's cwd
                                 messages=[{"role": "user", "content": "hi"}])
    assert started_cwd(mark) == str(tmp_path)
