import { TOPIC_PREFIX } from './constants.ts'

/** One gossip topic per (mesh name, realm): a node only hears the realms it serves. */
export function realmTopic(meshName: string, realm: string): string {
  return `${TOPIC_PREFIX}/${meshName}/realm/${realm}`
}
