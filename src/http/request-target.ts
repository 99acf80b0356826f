// Refuses request targets that are not plain paths (SPEC "Anything else"): `*`, `//`, dot segments, bad %-encoding.
import type { NextFunction, Request, Response } from 'express';
import { Problem } from '../problem.js';

const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*(.*)$/i;

/** The origin-form of a target (absolute-form read as RFC 9112 §3.2.2 says), or undefined when it is not plain. */
export function toOriginForm(target: string): string | undefined {
  const absolute = ABSOLUTE_FORM.exec(target);
  const originForm = absolute ? absolute[1] || '/' : target;
  if (!originForm.startsWith('/') || originForm.startsWith('//') || originForm.includes('#'))
    return undefined;
  const queryAt = originForm.indexOf('?');
  const path = queryAt === -1 ? originForm : originForm.slice(0, queryAt);
  const query = queryAt === -1 ? '' : originForm.slice(queryAt + 1);
  const segments = decodeStrictly(path)?.split('/');
  if (segments === undefined || segments.some((segment) => segment === '.' || segment === '..'))
    return undefined;
  if (decodeStrictly(query.replaceAll('+', ' ')) === undefined) return undefined;
  return originForm;
}

function decodeStrictly(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

export function checkRequestTarget(req: Request, _res: Response, next: NextFunction): void {
  const originForm = toOriginForm(req.url);
  if (originForm === undefined) throw new Problem('bad_request', 'The request target is not a plain path');
  req.url = originForm;
  next();
}
