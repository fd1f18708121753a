/** Any JSON value: what a document reads as, and what the wire carries. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
