/** The errors the simulated API answers with: PVE's status, message and per-parameter errors. */
import { StrataError } from '../../errors.ts';

/** An API error as PVE would send it; also what inject() throws for a malformed fault. */
export class SimHttpError extends StrataError {
  readonly pveMessage: string;
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(
      errors
        ? `${message} ${Object.entries(errors)
            .map(([k, v]) => `${k}: ${v}`)
            .join('; ')}`
        : message,
    );
    this.pveMessage = message;
  }
}

/** PVE's answer to parameters that fail its schema: 400 with one message per parameter. */
export function invalidParams(errors: Record<string, string>): SimHttpError {
  return new SimHttpError(400, 'Parameter verification failed.', errors);
}
