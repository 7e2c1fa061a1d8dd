/**
 * Refusals of the ticket key package. Code and tests branch on `.name`, metrics label on `.code`;
 * messages name fields and sizes, never key bytes.
 */

/** A `TicketKeyScheduleInit` or writer option out of range; the message names the field. */
export class InvalidTicketKeyOptionError extends Error {
  static override name = 'InvalidTicketKeyOptionError'
  override name = 'InvalidTicketKeyOptionError'
  readonly code = 'invalid-option'
}

/** Key material of the wrong size, or a record id that is not an 8-byte period number. */
export class InvalidTicketKeyError extends Error {
  static override name = 'InvalidTicketKeyError'
  override name = 'InvalidTicketKeyError'
  readonly code = 'invalid-key'
}
