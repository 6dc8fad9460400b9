import { followStream, type SseMessage } from "../../api/sse";
import { parseEvent } from "./reducer";
import { syntheticRun } from "./synthetic";

/** A server's SSE body for `events`, cut into chunks of `size` characters. */
function sseBody(text: string, size: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

afterEach(() => vi.unstubAllGlobals());

describe("the monitor's stream", () => {
  // (a chunk larger than the stream's parsing piece is parsed a piece at a time; the
  // 7-byte chunking feeds a smaller burst, so the test costs the same on a slow machine)
  it.each([
    [7, 4],
    [1000, 40],
    [65536, 40],
    [1_000_000, 40],
  ])("delivers every event of a burst, in order, in chunks of %i bytes", async (size, steps) => {
    const { events } = syntheticRun({ steps, width: 3, tokens: 50 });
    const text =
      events.map((e) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("") +
      "event: end\ndata: {}\n\n";
    vi.stubGlobal("fetch", () => Promise.resolve(new Response(sseBody(text, size), { status: 200 })));
    const got: SseMessage[] = [];
    let ended = false;
    await followStream("/v1/runs/r/stream", {
      signal: new AbortController().signal,
      onMessages: (m) => got.push(...m),
      onEnd: () => {
        ended = true;
      },
    });
    expect(ended).toBe(true);
    const parsed = got.filter((m) => m.event !== "end").map((m) => parseEvent(m.data));
    expect(parsed.map((e) => e?.seq)).toEqual(events.map((e) => e.seq));
    expect(got[got.length - 1]?.event).toBe("end");
  });
});
