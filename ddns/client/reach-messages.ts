/**
 * Words for the reach status model (reach-status.ts), per code, in the owner pages' languages
 * (en, es, pt-BR, de, fr). Typed so a missing translation fails the build. `{relay}` is filled
 * from the status.
 */
import type { Language } from './messages.ts';
import type { LightningState, PathReason } from './reach-status.ts';

type PathCatalog = Record<PathReason, string>;

const en: PathCatalog = {
  CHECKING: 'Checking whether the internet can reach this node directly…',
  DIRECT_REACHABLE: 'Reached directly: the internet connects to this node at home.',
  DIRECT_CHOSEN: 'Reached directly, as chosen in the settings.',
  RELAY_NO_INBOUND: 'Reached through the relay {relay}: your internet connection accepts no incoming connections (carrier-grade NAT, a second router or a VPN). The relay cannot read the traffic; the encryption ends on this node.',
  RELAY_CHOSEN: 'Reached through the relay {relay}, as chosen in the settings. The relay cannot read the traffic; the encryption ends on this node.',
  RELAY_UNAVAILABLE: 'No relay connection right now; the node keeps trying.',
  TOR_ONLY: 'Reached over Tor only, as chosen: no address of your home is published.',
  NO_PATH: 'The internet cannot reach this node directly and no relay is available; only Tor (if on) reaches it.',
};

const es: PathCatalog = {
  CHECKING: 'Comprobando si internet llega directamente a este nodo…',
  DIRECT_REACHABLE: 'Acceso directo: internet se conecta a este nodo en casa.',
  DIRECT_CHOSEN: 'Acceso directo, como se eligió en la configuración.',
  RELAY_NO_INBOUND: 'Acceso a través del relé {relay}: tu conexión a internet no acepta conexiones entrantes (CGNAT, un segundo router o una VPN). El relé no puede leer el tráfico; el cifrado termina en este nodo.',
  RELAY_CHOSEN: 'Acceso a través del relé {relay}, como se eligió en la configuración. El relé no puede leer el tráfico; el cifrado termina en este nodo.',
  RELAY_UNAVAILABLE: 'Ahora no hay conexión con un relé; el nodo sigue intentándolo.',
  TOR_ONLY: 'Acceso solo por Tor, como se eligió: no se publica ninguna dirección de tu casa.',
  NO_PATH: 'Internet no llega directamente a este nodo y no hay relé disponible; solo Tor (si está activo) llega a él.',
};

const ptBR: PathCatalog = {
  CHECKING: 'Verificando se a internet alcança este nó diretamente…',
  DIRECT_REACHABLE: 'Acesso direto: a internet se conecta a este nó em casa.',
  DIRECT_CHOSEN: 'Acesso direto, como escolhido nas configurações.',
  RELAY_NO_INBOUND: 'Acesso pelo relay {relay}: sua conexão não aceita conexões de entrada (CGNAT, um segundo roteador ou uma VPN). O relay não consegue ler o tráfego; a criptografia termina neste nó.',
  RELAY_CHOSEN: 'Acesso pelo relay {relay}, como escolhido nas configurações. O relay não consegue ler o tráfego; a criptografia termina neste nó.',
  RELAY_UNAVAILABLE: 'Sem conexão com um relay agora; o nó continua tentando.',
  TOR_ONLY: 'Acesso só pelo Tor, como escolhido: nenhum endereço da sua casa é publicado.',
  NO_PATH: 'A internet não alcança este nó diretamente e não há relay disponível; só o Tor (se ligado) o alcança.',
};

const de: PathCatalog = {
  CHECKING: 'Es wird geprüft, ob das Internet diesen Knoten direkt erreicht…',
  DIRECT_REACHABLE: 'Direkt erreichbar: das Internet verbindet sich mit diesem Knoten zu Hause.',
  DIRECT_CHOSEN: 'Direkt erreichbar, wie in den Einstellungen gewählt.',
  RELAY_NO_INBOUND: 'Erreichbar über das Relay {relay}: Ihr Internetanschluss nimmt keine eingehenden Verbindungen an (Carrier-Grade-NAT, ein zweiter Router oder ein VPN). Das Relay kann den Verkehr nicht lesen; die Verschlüsselung endet auf diesem Knoten.',
  RELAY_CHOSEN: 'Erreichbar über das Relay {relay}, wie in den Einstellungen gewählt. Das Relay kann den Verkehr nicht lesen; die Verschlüsselung endet auf diesem Knoten.',
  RELAY_UNAVAILABLE: 'Gerade keine Verbindung zu einem Relay; der Knoten versucht es weiter.',
  TOR_ONLY: 'Nur über Tor erreichbar, wie gewählt: keine Adresse Ihres Zuhauses wird veröffentlicht.',
  NO_PATH: 'Das Internet erreicht diesen Knoten nicht direkt und kein Relay ist verfügbar; nur Tor (falls an) erreicht ihn.',
};

const fr: PathCatalog = {
  CHECKING: 'Vérification : internet peut-il joindre ce nœud directement…',
  DIRECT_REACHABLE: 'Accès direct : internet se connecte à ce nœud à la maison.',
  DIRECT_CHOSEN: 'Accès direct, comme choisi dans les réglages.',
  RELAY_NO_INBOUND: 'Accès par le relais {relay} : votre connexion n\'accepte aucune connexion entrante (CGNAT, un second routeur ou un VPN). Le relais ne peut pas lire le trafic ; le chiffrement se termine sur ce nœud.',
  RELAY_CHOSEN: 'Accès par le relais {relay}, comme choisi dans les réglages. Le relais ne peut pas lire le trafic ; le chiffrement se termine sur ce nœud.',
  RELAY_UNAVAILABLE: 'Pas de connexion à un relais pour le moment ; le nœud réessaie.',
  TOR_ONLY: 'Accès par Tor uniquement, comme choisi : aucune adresse de votre domicile n\'est publiée.',
  NO_PATH: 'Internet ne joint pas ce nœud directement et aucun relais n\'est disponible ; seul Tor (s\'il est activé) le joint.',
};

const PATH_TEXT: Record<Language, PathCatalog> = { en, es, 'pt-BR': ptBR, de, fr };

/** The sentence for a path reason in `lang`, with `{relay}` filled. */
export function pathReasonText(lang: Language, reason: PathReason, params: { relay?: string } = {}): string {
  return PATH_TEXT[lang][reason].replaceAll('{relay}', params.relay ?? '');
}

type LightningCatalog = Record<LightningState, string>;

const lnEn: LightningCatalog = {
  off: 'Lightning peers: not handled by nodegate (turned off).',
  'tor-only': 'Lightning peers reach LND over Tor only; no home address is announced.',
  announced: 'Lightning peers can reach you at {address}.',
  pending: 'Telling LND its new address ({address})…',
  'lnd-locked': 'LND is locked: its address is announced as soon as it is unlocked.',
  unsupported: 'This LND cannot update its announced address by itself (built without peersrpc). Add to lnd.conf: {line}',
  error: 'The Lightning address could not be updated; nodegate keeps trying.',
};
const lnEs: LightningCatalog = {
  off: 'Pares Lightning: nodegate no se ocupa de ellos (desactivado).',
  'tor-only': 'Los pares Lightning llegan a LND solo por Tor; no se anuncia ninguna dirección de casa.',
  announced: 'Los pares Lightning pueden conectarse contigo en {address}.',
  pending: 'Comunicando a LND su nueva dirección ({address})…',
  'lnd-locked': 'LND está bloqueado: su dirección se anuncia en cuanto se desbloquee.',
  unsupported: 'Este LND no puede actualizar por sí mismo la dirección anunciada (compilado sin peersrpc). Añade a lnd.conf: {line}',
  error: 'No se pudo actualizar la dirección Lightning; nodegate sigue intentándolo.',
};
const lnPtBR: LightningCatalog = {
  off: 'Pares Lightning: o nodegate não cuida deles (desligado).',
  'tor-only': 'Os pares Lightning chegam ao LND só pelo Tor; nenhum endereço da sua casa é anunciado.',
  announced: 'Os pares Lightning podem se conectar a você em {address}.',
  pending: 'Informando ao LND o novo endereço ({address})…',
  'lnd-locked': 'O LND está bloqueado: o endereço é anunciado assim que ele for desbloqueado.',
  unsupported: 'Este LND não consegue atualizar sozinho o endereço anunciado (compilado sem peersrpc). Adicione ao lnd.conf: {line}',
  error: 'Não foi possível atualizar o endereço Lightning; o nodegate continua tentando.',
};
const lnDe: LightningCatalog = {
  off: 'Lightning-Peers: nodegate kümmert sich nicht darum (ausgeschaltet).',
  'tor-only': 'Lightning-Peers erreichen LND nur über Tor; keine Adresse Ihres Zuhauses wird angekündigt.',
  announced: 'Lightning-Peers erreichen Sie unter {address}.',
  pending: 'LND wird seine neue Adresse mitgeteilt ({address})…',
  'lnd-locked': 'LND ist gesperrt: seine Adresse wird angekündigt, sobald es entsperrt ist.',
  unsupported: 'Dieses LND kann seine angekündigte Adresse nicht selbst ändern (ohne peersrpc gebaut). Tragen Sie in lnd.conf ein: {line}',
  error: 'Die Lightning-Adresse konnte nicht aktualisiert werden; nodegate versucht es weiter.',
};
const lnFr: LightningCatalog = {
  off: 'Pairs Lightning : nodegate ne s\'en occupe pas (désactivé).',
  'tor-only': 'Les pairs Lightning joignent LND uniquement par Tor ; aucune adresse de votre domicile n\'est annoncée.',
  announced: 'Les pairs Lightning peuvent vous joindre à {address}.',
  pending: 'Communication à LND de sa nouvelle adresse ({address})…',
  'lnd-locked': 'LND est verrouillé : son adresse sera annoncée dès son déverrouillage.',
  unsupported: 'Ce LND ne peut pas mettre à jour lui-même son adresse annoncée (compilé sans peersrpc). Ajoutez à lnd.conf : {line}',
  error: 'L\'adresse Lightning n\'a pas pu être mise à jour ; nodegate réessaie.',
};

const LIGHTNING_TEXT: Record<Language, LightningCatalog> = { en: lnEn, es: lnEs, 'pt-BR': lnPtBR, de: lnDe, fr: lnFr };

/** The sentence for a Lightning P2P state in `lang`, with `{address}` and `{line}` filled. */
export function lightningStateText(lang: Language, state: LightningState, params: { address?: string; line?: string } = {}): string {
  return LIGHTNING_TEXT[lang][state].replaceAll('{address}', params.address ?? '').replaceAll('{line}', params.line ?? '');
}
