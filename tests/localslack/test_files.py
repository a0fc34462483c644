from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack

DIFF = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"


async def test_files_upload_v2_lands_in_files_and_in_the_thread(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    root = await client.chat_postMessage(channel="C_GENERAL", text="review")
    response = await client.files_upload_v2(
        channel="C_GENERAL",
        thread_ts=root["ts"],
        content=DIFF,
        filename="TASK-1.diff",
        title="Full diff",
        snippet_type="diff",
        initial_comment="the whole change",
    )
    assert response["file"]["title"] == "Full diff"
    [file] = ls.files
    assert (file.filename, file.title, file.snippet_type) == ("TASK-1.diff", "Full diff", "diff")
    assert file.content == DIFF.encode() and file.text == DIFF
    assert (file.channel, file.thread_ts) == ("C_GENERAL", root["ts"])
    [reply] = ls.thread("C_GENERAL", root["ts"])
    assert reply.text == "the whole change"
    assert reply.files is not None and reply.files[0]["id"] == file.id
    methods = [c.method for c in ls.calls]
    assert methods[-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_files_complete_before_upload_fails(ls: LocalSlack, client: AsyncWebClient) -> None:
    reserved = await client.files_getUploadURLExternal(filename="a.txt", length=3)
    assert reserved["upload_url"].startswith(ls.base_url + "/upload/")
    with pytest.raises(SlackApiError) as caught:
        await client.files_completeUploadExternal(
            files=[{"id": reserved["file_id"], "title": "a"}], channel_id="C_GENERAL"
        )
    assert caught.value.response["error"] == "file_not_found"
    assert ls.files == []
