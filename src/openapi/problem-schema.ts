// The problem+json body (SPEC "Normalized errors") as a zod schema whose codes, types and statuses come from the catalogue.
import { z } from 'zod';
import { catalogue, problemType, type ProblemCode } from '../problem.js';

export const PROBLEM_CODES = Object.keys(catalogue) as [ProblemCode, ...ProblemCode[]];

export const fieldErrorSchema = z.object({
  field: z.string().meta({ description: 'The query parameter at fault' }),
  message: z.string().meta({ description: 'Why, in words that follow the field name' }),
});

export const problemSchema = z
  .object({
    type: z.enum(PROBLEM_CODES.map(problemType) as [string, ...string[]]).meta({
      description: 'A stable URI per code: urn:ntropy-bff:problem: and the code with dashes',
    }),
    title: z.string().meta({ description: "The code's title" }),
    status: z.int().min(400).max(599).meta({ description: 'The HTTP status, as on the response' }),
    detail: z.string().meta({ description: 'What went wrong with this request, for people' }),
    code: z.enum(PROBLEM_CODES).meta({
      description: PROBLEM_CODES.map((code) => `${code}: ${catalogue[code].status}`).join('; '),
    }),
    request_id: z.string().meta({ description: 'Equals the X-Request-ID response header' }),
    errors: z
      .array(fieldErrorSchema)
      .optional()
      .meta({ description: 'On invalid_query: one entry per offending parameter, in the order written' }),
    upstream_status: z
      .int()
      .optional()
      .meta({ description: "The status of Ntropy's last response, when one came" }),
    upstream_request_id: z
      .string()
      .optional()
      .meta({ description: "Ntropy's X-Request-ID of its last response, to quote to Ntropy support" }),
  })
  .meta({ description: 'RFC 9457 problem details, as every error of this proxy is written' });

/** The codes answered with one HTTP status, in catalogue order. */
export function codesWithStatus(status: number): ProblemCode[] {
  return PROBLEM_CODES.filter((code) => catalogue[code].status === status);
}

/** Every status some code is answered with, ascending. */
export function problemStatuses(): number[] {
  return [...new Set(PROBLEM_CODES.map((code) => catalogue[code].status))].sort((a, b) => a - b);
}
