// Text the operator writes into objects that people read (event notes, condition messages) carries what
// others said: an API server's refusal, a Prometheus error that echoes a query, a URL, a pod's name. It is
// untrusted: a control character in it (an ESC sequence) would reach the terminal of whoever runs kubectl
// describe, and a message longer than the field's limit makes the API server refuse the whole write (an
// event note is at most 1024 bytes; a condition message at most 32768 characters), so the event is lost or
// the status is never written. Every such text goes through `displayText`.

/** C0 controls other than tab and newline, DEL, and C1 controls (0x9b is an 8-bit CSI). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
export const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const ELLIPSIS = "…";

/**
 * The text with every control character but tab and newline written as `\xNN`, cut to at most `maxBytes`
 * bytes of UTF-8 on a character boundary, ending with "…" when it was cut.
 */
export function displayText(text: string, maxBytes: number): string {
  const shown = text.replace(
    CONTROL_CHARACTERS,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  if (Buffer.byteLength(shown) <= maxBytes) return shown;
  const bytes = Buffer.from(shown);
  let end = Math.max(0, maxBytes - Buffer.byteLength(ELLIPSIS));
  // Back to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString("utf8")}${ELLIPSIS}`;
}

/** events.k8s.io/v1 Event.note: the API server refuses a longer one. */
export const EVENT_NOTE_MAX_BYTES = 1024;
/** metav1.Condition.message (the CRDs' maxLength, in characters; bytes are never fewer). */
export const CONDITION_MESSAGE_MAX_BYTES = 32768;
