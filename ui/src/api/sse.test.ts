import { SseParser } from "./sse";

describe("SseParser", () => {
  it("parses messages split across chunks, with ids, events and comments", () => {
    const p = new SseParser();
    expect(p.push(": heartbeat\n\nid: 1\nevent: run.sta")).toEqual([]);
    expect(p.push('rted\ndata: {"a":1}\n\nid: 2\ndata: x\ndata: y\n\n')).toEqual([
      { id: "1", event: "run.started", data: '{"a":1}' },
      { id: "2", event: "message", data: "x\ny" },
    ]);
  });
  it("accepts CRLF line ends", () => {
    const p = new SseParser();
    expect(p.push("id: 7\r\ndata: z\r\n\r\n")).toEqual([{ id: "7", event: "message", data: "z" }]);
  });
  it("keeps a CRLF split between two chunks as one line end", () => {
    const p = new SseParser();
    expect(p.push("id: 8\r\ndata: a\r")).toEqual([]);
    expect(p.push("\ndata: b\r")).toEqual([]);
    expect(p.push("\n\r")).toEqual([]);
    expect(p.push("\n")).toEqual([{ id: "8", event: "message", data: "a\nb" }]);
  });
});
