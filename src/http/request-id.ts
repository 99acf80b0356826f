// SPEC "Request IDs": keep a well-formed client X-Request-ID, otherwise mint a UUID.
import { randomUUID } from 'node:crypto';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function chooseRequestId(
  clientValue: string | string[] | undefined,
  newId: () => string = randomUUID,
): string {
  return typeof clientValue === 'string' && REQUEST_ID.test(clientValue) ? clientValue : newId();
}
