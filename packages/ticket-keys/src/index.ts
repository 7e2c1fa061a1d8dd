export * from './constants.ts'
export { InvalidTicketKeyError, InvalidTicketKeyOptionError } from './errors.ts'
export {
  haproxyTicketKeyLine,
  nginxTicketKeyFile,
  nodeTicketKeys,
  periodId,
  periodOfId,
  TicketKey,
} from './ticket-key.ts'
export {
  type AttachedTicketKeyFiles,
  attachTicketKeyFiles,
  type TicketKeyFilesComponents,
  type TicketKeyFilesInit,
  type TicketKeyFilesStats,
} from './ticket-key-file-sync.ts'
export {
  isKeyFileInWriting,
  nginxSlotNames,
  nginxTicketKeyDirectives,
  TICKET_KEY_FILE_FORMATS,
  type TicketKeyFileFormat,
  type WriteTicketKeyFilesOptions,
  type WrittenTicketKeyFiles,
  writeTicketKeyFiles,
} from './ticket-key-files.ts'
export { type HookResult, type RunHookOptions, runHook } from './ticket-key-hook.ts'
export {
  createTicketKeySchedule,
  TicketKeySchedule,
  type TicketKeyScheduleComponents,
  type TicketKeyScheduleEvents,
  type TicketKeyScheduleInit,
  type TicketKeyScheduleOptions,
  type TicketKeyStatus,
  type TicketKeysChange,
  ticketKeyContestRule,
  ticketKeyRealm,
  ticketKeyRecordTtlMs,
} from './ticket-key-schedule.ts'
