// Ntropy's page of batches (SPEC "What it is"), as zod schemas: the OpenAPI document and the simulated Ntropy read them.
import { z } from 'zod';

export const BATCH_STATUSES = ['processing', 'completed', 'error'] as const;

// Loose objects: the proxy passes Ntropy's body through byte for byte, so fields Ntropy adds later reach clients.
export const batchSchema = z.looseObject({
  id: z.string().meta({ description: "Ntropy's id of the batch" }),
  operation: z.string().meta({ description: 'The batched request', examples: ['POST /v3/transactions'] }),
  status: z.enum(BATCH_STATUSES),
  created_at: z.string().meta({
    description: 'When the batch was created; Ntropy writes UTC without an offset',
    examples: ['2024-01-01T00:00:00'],
  }),
  updated_at: z.string().meta({ description: 'When the batch last changed (UTC, no offset)' }),
  progress: z.int().min(0).meta({ description: 'Items processed so far' }),
  total: z.int().min(0).meta({ description: 'Items in the batch' }),
});

export const batchPageSchema = z.looseObject({
  next_cursor: z
    .string()
    .nullable()
    .optional()
    .meta({ description: 'Pass as `cursor` for the next page; null or absent on the last page' }),
  data: z.array(batchSchema).meta({ description: 'Most recent batch first' }),
});

export type Batch = z.infer<typeof batchSchema>;
export type BatchStatus = Batch['status'];
export type BatchPage = z.infer<typeof batchPageSchema>;
