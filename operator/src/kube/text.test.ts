import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CONTROL_CHARACTERS, displayText } from "./text.ts";

const control = new RegExp(CONTROL_CHARACTERS.source);
const escaped = (s: string) =>
  s.replace(CONTROL_CHARACTERS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

describe("displayText", () => {
  it("keeps text that is clean and short as it is", () => {
    expect(displayText("scaled Deployment a from 2 to 3:\n\tqueue 12 > 8", 1024)).toBe(
      "scaled Deployment a from 2 to 3:\n\tqueue 12 > 8",
    );
  });

  it("writes control characters as \\xNN, so an ESC sequence cannot reach a terminal", () => {
    expect(displayText("pod says \u001b[2J\u001b]0;owned\u0007 and \u009b31m", 1024)).toBe(
      "pod says \\x1b[2J\\x1b]0;owned\\x07 and \\x9b31m",
    );
  });

  it("cuts on a character boundary within the bytes allowed, ending with an ellipsis", () => {
    const cut = displayText("é".repeat(1000), 1024); // 2 bytes each
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1024);
    expect(cut.endsWith("…")).toBe(true);
    expect(cut.slice(0, -1)).toBe("é".repeat(cut.length - 1));
  });

  it("never exceeds the limit, never shows a control character, and keeps a clean text's start (property)", () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof(
            fc.constantFrom("\u001b", "\u0007", "\u009b", "\u0000", "\n", "\t"),
            fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
          ),
          maxLength: 400,
        }),
        fc.integer({ min: 3, max: 600 }),
        (s, max) => {
          const out = displayText(s, max);
          expect(Buffer.byteLength(out)).toBeLessThanOrEqual(max);
          expect(out).not.toMatch(control);
          expect(Buffer.from(out, "utf8").toString("utf8")).toBe(out);
          const shown = escaped(s);
          if (Buffer.byteLength(shown) <= max) expect(out).toBe(shown);
          else expect(shown.startsWith(out.slice(0, -1)) && out.endsWith("…")).toBe(true);
        },
      ),
    );
  });
});
