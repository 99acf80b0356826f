// Reads each request target once (SPEC "Anything else", RFC 9112 §3.2): the path that both routes and audits it, or why it is refused.
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { Problem } from '../problem.js';

export type TargetRefusal =
  | 'asterisk_form'
  | 'not_a_path'
  | 'bad_authority'
  | 'double_slash'
  | 'dot_segment'
  | 'bad_percent_encoding'
  | 'fragment';

export interface RequestTarget {
  /** The raw path before any `?` or `#`, as routing compares it; undefined when the target names none (`*`). */
  path: string | undefined;
  /** The origin-form the request is routed with; undefined when the target is refused. */
  originForm: string | undefined;
  refusal: TargetRefusal | undefined;
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/i;
// RFC 3986 §3.2.2 host (an IP literal or a reg-name of unreserved, sub-delims and %XX) and §3.2.3 port.
// RFC 9110 §4.2.1 refuses an empty host and §4.2.4 userinfo, so neither '' nor '@' passes.
const AUTHORITY =
  /^(?:\[[0-9A-Za-z:._~!$&'()*+,;=-]+\]|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+)(?::([0-9]*))?$/;
const MAX_PORT = 65535;

function refused(path: string | undefined, refusal: TargetRefusal): RequestTarget {
  return { path, originForm: undefined, refusal };
}

/** The one reading of a target: absolute-form is read for its path and query (RFC 9112 §3.2.2). */
export function parseRequestTarget(target: string): RequestTarget {
  if (target === '*') return refused(undefined, 'asterisk_form');
  const absolute = ABSOLUTE_FORM.exec(target);
  const rest = absolute ? (absolute[2] ?? '') : target;
  const originForm = absolute && !rest.startsWith('/') ? `/${rest}` : rest;
  if (!originForm.startsWith('/')) return refused(undefined, 'not_a_path');
  const pathEnd = originForm.search(/[?#]/);
  const path = pathEnd === -1 ? originForm : originForm.slice(0, pathEnd);
  if (absolute && !isUsableAuthority(absolute[1] ?? '')) return refused(path, 'bad_authority');
  if (originForm.includes('#')) return refused(path, 'fragment');
  if (path.startsWith('//')) return refused(path, 'double_slash');
  const decodedPath = decodeStrictly(path);
  if (decodedPath === undefined) return refused(path, 'bad_percent_encoding');
  if (
    decodedPath.includes('.') &&
    decodedPath.split('/').some((segment) => segment === '.' || segment === '..')
  )
    return refused(path, 'dot_segment');
  // Only whether it decodes: a '+' (a space in a query) is no percent-encoding either way.
  if (pathEnd !== -1 && decodeStrictly(originForm.slice(pathEnd + 1)) === undefined)
    return refused(path, 'bad_percent_encoding');
  return { path, originForm, refusal: undefined };
}

function isUsableAuthority(authority: string): boolean {
  const match = AUTHORITY.exec(authority);
  if (!match) return false;
  const port = match[1];
  return port === undefined || port === '' || Number(port) <= MAX_PORT;
}

function decodeStrictly(text: string): string | undefined {
  // Nothing to decode, nothing to refuse (a plain `?limit=10` costs no decoding).
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

const TARGET = Symbol('ntropy-bff.requestTarget');

/** Parses `req.url` once, keeps the result on the request, and routes a plain target by its origin-form. */
export function readRequestTarget(req: IncomingMessage): RequestTarget {
  const target = parseRequestTarget(req.url ?? '');
  (req as IncomingMessage & { [TARGET]?: RequestTarget })[TARGET] = target;
  if (target.originForm !== undefined) req.url = target.originForm;
  return target;
}

/** SPEC "Anything else": a target that is not a plain path is a 400 (after CORS preflights, before routing). */
export function refuseUnplainTarget(req: Request, _res: Response, next: NextFunction): void {
  const refusal = (req as Request & { [TARGET]?: RequestTarget })[TARGET]?.refusal;
  if (refusal !== undefined) {
    throw new Problem('bad_request', 'The request target is not a plain path', { reason: refusal });
  }
  next();
}
