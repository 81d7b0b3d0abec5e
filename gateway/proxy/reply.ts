/** Error replies of the gateway: `{ error: { code, message, details? } }` with the error's status. */
import type { ServerResponse } from 'node:http';
import { NodegateError, type GatewayErrorCode } from '../../core/errors.ts';

export function gatewayError(code: GatewayErrorCode, status: number, message: string, details?: Record<string, unknown>): NodegateError {
  return new NodegateError(code, message, { status, ...(details ? { details } : {}) });
}

/** Sends `err` as JSON if nothing was sent yet, else cuts the response (the client sees a broken stream). */
export function replyError(res: ServerResponse, err: NodegateError, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(err.toJSON());
  res.writeHead(err.status ?? 500, { ...extraHeaders, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** A raw HTTP/1.1 error response for a socket node's parser gave up on (no ServerResponse exists). */
export function rawErrorResponse(err: NodegateError): string {
  const body = JSON.stringify(err.toJSON());
  const reason = { 400: 'Bad Request', 408: 'Request Timeout', 413: 'Content Too Large', 431: 'Request Header Fields Too Large' }[err.status ?? 400] ?? 'Error';
  return `HTTP/1.1 ${err.status ?? 400} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
