/**
 * Finds the bytes of `request.object` or `request.oldObject` inside the raw body of an
 * AdmissionReview, so the decision record can hash the object exactly as the API
 * server sent it, without serializing the parsed object a second time.
 *
 * The body must already have parsed as JSON. The scan follows JSON's structure and
 * skips strings with Buffer.indexOf, so most of its work runs in native code.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const requestKey = Buffer.from('request');
const fieldKeys = { object: Buffer.from('object'), oldObject: Buffer.from('oldObject') } as const;

export interface ByteSpan {
  start: number;
  end: number;
}

/**
 * Returns the byte span of `request.<field>` when its value is a JSON object. Returns
 * `undefined` when the field is absent or not an object, when `request` or the field
 * occurs twice (JSON.parse keeps the last, and this scan does not guess), or when a
 * key at those levels is written with escapes. The caller then hashes the parsed
 * object instead.
 */
export function findRequestFieldSpan(body: Buffer, field: keyof typeof fieldKeys): ByteSpan | undefined {
  const fieldKey = fieldKeys[field];
  // true for an object, false for an array, innermost last.
  const containers: boolean[] = [];
  let expectingKey = false;
  let keyStart = -1;
  let keyEnd = -1;
  let requestDepth = -1;
  let requestCount = 0;
  let fieldCount = 0;
  let span: ByteSpan | undefined;

  for (let index = 0; index < body.length; index += 1) {
    const byte = body[index];
    if (byte === QUOTE) {
      const close = closingQuote(body, index);
      if (close === -1) {
        return undefined;
      }
      if (expectingKey) {
        keyStart = index + 1;
        keyEnd = close;
        expectingKey = false;
        const depth = containers.length;
        if ((depth === 1 || depth === requestDepth) && containsByte(body, BACKSLASH, keyStart, keyEnd)) {
          return undefined;
        }
      }
      index = close;
    } else if (byte === COLON) {
      expectingKey = false;
    } else if (byte === COMMA) {
      expectingKey = containers[containers.length - 1] === true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      const depth = containers.length;
      const isObject = byte === OPEN_BRACE;
      if (isObject && depth === 1 && keyEquals(body, keyStart, keyEnd, requestKey)) {
        requestCount += 1;
        requestDepth = 2;
      } else if (isObject && depth === requestDepth && keyEquals(body, keyStart, keyEnd, fieldKey)) {
        fieldCount += 1;
        span = { start: index, end: -1 };
      }
      containers.push(isObject);
      expectingKey = isObject;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      containers.pop();
      if (span !== undefined && span.end === -1 && containers.length === requestDepth) {
        span.end = index + 1;
      }
      if (containers.length < requestDepth) {
        requestDepth = -1;
      }
      expectingKey = false;
    }
  }

  if (requestCount !== 1 || fieldCount !== 1 || span === undefined || span.end === -1) {
    return undefined;
  }
  return span;
}

/** Index of the quote that closes the string opened at `open`, or -1. */
function closingQuote(body: Buffer, open: number): number {
  let position = open;
  for (;;) {
    position = body.indexOf(QUOTE, position + 1);
    if (position === -1) {
      return -1;
    }
    let backslashes = 0;
    while (body[position - 1 - backslashes] === BACKSLASH) {
      backslashes += 1;
    }
    if (backslashes % 2 === 0) {
      return position;
    }
  }
}

function containsByte(body: Buffer, byte: number, start: number, end: number): boolean {
  const found = body.indexOf(byte, start);
  return found !== -1 && found < end;
}

function keyEquals(body: Buffer, start: number, end: number, key: Buffer): boolean {
  return start >= 0 && end - start === key.length && body.compare(key, 0, key.length, start, end) === 0;
}
