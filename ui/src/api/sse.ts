// Server-sent events over fetch (EventSource cannot send the bearer header), resumed
// with Last-Event-ID after a dropped connection.
import { authHeaders } from "./client";

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/** Split an SSE byte stream into messages; feed it text chunks, it returns whole messages. */
export class SseParser {
  private buffer = "";
  private id: string | null = null;
  private event = "";
  private data: string[] = [];

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      // a CR that ends the text so far may be the first half of a CRLF: wait for more
      if (newline === this.buffer.length - 1 && this.buffer.endsWith("\r")) break;
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      if (line === "") {
        if (this.data.length > 0) {
          out.push({ id: this.id, event: this.event || "message", data: this.data.join("\n") });
        }
        this.event = "";
        this.data = [];
        continue;
      }
      if (line.startsWith(":")) continue; // a comment: the heartbeat
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "event") this.event = value;
      else if (field === "id" && !value.includes("\0")) this.id = value;
    }
    return out;
  }
}

/** Longest run of stream reading before the page gets a turn to paint. */
const YIELD_AFTER_MS = 5;

/** Characters of a network chunk parsed between two checks of the time spent. */
const PIECE_CHARS = 8_192;

/** Resolves once the page has painted its next frame (a hidden page paints none: then
 * after the tasks already queued). */
function afterNextPaint(): Promise<void> {
  return new Promise((resolve) => {
    const later = () => setTimeout(resolve, 0);
    if (typeof requestAnimationFrame !== "function" || document.hidden) later();
    else requestAnimationFrame(later);
  });
}

export interface StreamOptions {
  /** Resume after this event id. */
  lastEventId?: string | null;
  signal: AbortSignal;
  /** Called with each batch of messages parsed from one network chunk. */
  onMessages: (messages: SseMessage[]) => void;
  /** Called when the stream ends by itself (the server closed it). */
  onEnd?: () => void;
  onError?: (error: unknown) => void;
  /** Reconnect after a dropped connection, from the last id seen (default true). */
  reconnect?: boolean;
}

/** Follow the SSE stream at `path` until `signal` aborts or the server ends it. */
export async function followStream(path: string, options: StreamOptions): Promise<void> {
  let lastId = options.lastEventId ?? null;
  let attempt = 0;
  for (;;) {
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream", ...authHeaders() };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch(path, { headers, signal: options.signal });
      if (!response.ok || !response.body) {
        const text = await response.text();
        throw new Error(`stream ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
      }
      attempt = 0;
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let slice = performance.now();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // a chunk can hold a long backlog (a run's events logged before the page opened):
        // it is parsed a piece at a time, so that no frame waits on a whole chunk
        for (let at = 0; at < value.length; at += PIECE_CHARS) {
          const messages = parser.push(at === 0 && value.length <= PIECE_CHARS ? value : value.slice(at, at + PIECE_CHARS));
          if (messages.length > 0) {
            const last = messages[messages.length - 1];
            if (last?.id) lastId = last.id;
            options.onMessages(messages);
          }
          // chunks already buffered resolve one after another as microtasks, which would
          // hold the page from painting through a whole burst: after a slice of reading,
          // wait until the next frame has been painted (the rest waits in the network)
          if (performance.now() - slice > YIELD_AFTER_MS) {
            await afterNextPaint();
            slice = performance.now();
          }
        }
      }
      options.onEnd?.();
      return;
    } catch (error) {
      if (options.signal.aborted) return;
      options.onError?.(error);
      if (options.reconnect === false || attempt >= 5) return;
      attempt += 1;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    }
  }
}
