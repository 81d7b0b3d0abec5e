/**
 * The doctor's words, per verdict code, in the owner pages' languages (en, es, pt-BR, de, fr).
 * Typed so a missing translation fails the build. `{name}`, `{lan}`, `{port}`, `{public}`,
 * `{router}` are filled from the diagnosis.
 */

export const VERDICT_CODES = [
  'REACHABLE',
  'REGISTRY_UNREACHABLE',
  'NOT_LISTENING',
  'CGNAT',
  'DOUBLE_NAT',
  'PORT_CLOSED',
  'UPNP_OFF',
  'UPNP_REFUSED',
  'DNS_STALE',
  'DNS_REBIND_PROTECTION',
  'NO_HAIRPIN',
  'IPV6_AVAILABLE',
] as const;
export type VerdictCode = (typeof VERDICT_CODES)[number];

export const LANGUAGES = ['en', 'es', 'pt-BR', 'de', 'fr'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface VerdictText {
  /** One sentence: what is the case. */
  title: string;
  /** What to do about it. */
  advice: string;
}

type Catalog = Record<VerdictCode, VerdictText>;

const en: Catalog = {
  REACHABLE: { title: '{name} is reachable from the internet on port {port}.', advice: 'Nothing to do.' },
  REGISTRY_UNREACHABLE: { title: 'The registry cannot be reached, so the public name cannot be kept up to date.', advice: 'Check the internet connection and the registry URL in the config; updates are kept and sent when it is back.' },
  NOT_LISTENING: { title: 'Nothing on this node answers on port {port}.', advice: 'Start the gateway (`nodegate start`) and run the doctor again.' },
  CGNAT: { title: 'Your internet provider shares one public address among many customers (carrier-grade NAT): your router has {router}, the internet sees {public}.', advice: 'Ports cannot be opened from home. Ask your provider for a public IPv4 address (often free or cheap), use IPv6 if available, or use Tor.' },
  DOUBLE_NAT: { title: 'Your router is behind another router (double NAT): it has no public address of its own.', advice: 'Put the provider\'s modem in bridge mode, or forward port {port} on the modem to your router, or make your router the modem\'s "exposed host" (DMZ).' },
  PORT_CLOSED: { title: 'Port {port} is closed when tried from the internet.', advice: 'Forward TCP port {port} on your router to this node, or switch on UPnP / NAT-PMP in the router\'s settings.' },
  UPNP_OFF: { title: 'Your router does not offer UPnP, NAT-PMP or PCP, so the port cannot be opened automatically.', advice: 'Switch on UPnP or NAT-PMP in the router, or forward TCP port {port} to this node by hand.' },
  UPNP_REFUSED: { title: 'Your router refused to open port {port}.', advice: 'Another device may use that port, or the router allows UPnP only for some devices: check its UPnP settings or forward the port by hand.' },
  DNS_STALE: { title: 'The registry\'s DNS does not answer this node\'s current address for {name}.', advice: 'The node will retry by itself; if this stays, check that the node can reach the registry.' },
  DNS_REBIND_PROTECTION: { title: 'Your router\'s DNS hides {lan} (DNS-rebind protection), so the home name does not work here.', advice: 'Allow the registry\'s zone in the router\'s DNS-rebind settings, or use another DNS server at home.' },
  NO_HAIRPIN: { title: 'From inside your home the public address does not lead back to this node (no hairpin NAT).', advice: 'At home, use {lan}: it has the same certificate and goes straight to the node.' },
  IPV6_AVAILABLE: { title: 'This node has a public IPv6 address.', advice: 'Devices with IPv6 reach {name} directly, without port forwarding; allow incoming port {port} in the router\'s IPv6 firewall.' },
};

const es: Catalog = {
  REACHABLE: { title: '{name} es accesible desde internet en el puerto {port}.', advice: 'No hay nada que hacer.' },
  REGISTRY_UNREACHABLE: { title: 'No se puede contactar con el registro, así que el nombre público no se puede actualizar.', advice: 'Comprueba la conexión a internet y la URL del registro en la configuración; los cambios se guardan y se envían cuando vuelva.' },
  NOT_LISTENING: { title: 'Nada en este nodo responde en el puerto {port}.', advice: 'Inicia la pasarela (`nodegate start`) y vuelve a ejecutar el diagnóstico.' },
  CGNAT: { title: 'Tu proveedor comparte una dirección pública entre muchos clientes (CGNAT): tu router tiene {router}, internet ve {public}.', advice: 'No se pueden abrir puertos desde casa. Pide a tu proveedor una IPv4 pública, usa IPv6 si lo tienes, o usa Tor.' },
  DOUBLE_NAT: { title: 'Tu router está detrás de otro router (doble NAT): no tiene dirección pública propia.', advice: 'Pon el módem del proveedor en modo puente, o redirige el puerto {port} en el módem hacia tu router, o configura tu router como DMZ del módem.' },
  PORT_CLOSED: { title: 'El puerto {port} está cerrado visto desde internet.', advice: 'Redirige el puerto TCP {port} del router a este nodo, o activa UPnP / NAT-PMP en el router.' },
  UPNP_OFF: { title: 'Tu router no ofrece UPnP, NAT-PMP ni PCP, así que el puerto no se puede abrir automáticamente.', advice: 'Activa UPnP o NAT-PMP en el router, o redirige a mano el puerto TCP {port} a este nodo.' },
  UPNP_REFUSED: { title: 'Tu router se negó a abrir el puerto {port}.', advice: 'Otro dispositivo puede estar usando ese puerto, o el router limita UPnP: revisa su configuración o redirige el puerto a mano.' },
  DNS_STALE: { title: 'El DNS del registro no responde la dirección actual de este nodo para {name}.', advice: 'El nodo lo reintentará solo; si sigue así, comprueba que el nodo llega al registro.' },
  DNS_REBIND_PROTECTION: { title: 'El DNS de tu router oculta {lan} (protección contra DNS rebinding), así que el nombre de casa no funciona aquí.', advice: 'Permite la zona del registro en la protección DNS-rebind del router, o usa otro servidor DNS en casa.' },
  NO_HAIRPIN: { title: 'Desde dentro de casa la dirección pública no lleva de vuelta a este nodo (sin hairpin NAT).', advice: 'En casa usa {lan}: tiene el mismo certificado y va directo al nodo.' },
  IPV6_AVAILABLE: { title: 'Este nodo tiene una dirección IPv6 pública.', advice: 'Los dispositivos con IPv6 llegan a {name} directamente; permite el puerto {port} entrante en el cortafuegos IPv6 del router.' },
};

const ptBR: Catalog = {
  REACHABLE: { title: '{name} está acessível pela internet na porta {port}.', advice: 'Nada a fazer.' },
  REGISTRY_UNREACHABLE: { title: 'Não foi possível falar com o registro, então o nome público não pode ser atualizado.', advice: 'Verifique a conexão com a internet e a URL do registro na configuração; as mudanças ficam guardadas e são enviadas quando ele voltar.' },
  NOT_LISTENING: { title: 'Nada neste nó responde na porta {port}.', advice: 'Inicie o gateway (`nodegate start`) e rode o diagnóstico de novo.' },
  CGNAT: { title: 'Seu provedor divide um endereço público entre muitos clientes (CGNAT): seu roteador tem {router}, a internet vê {public}.', advice: 'Não dá para abrir portas em casa. Peça ao provedor um IPv4 público, use IPv6 se houver, ou use Tor.' },
  DOUBLE_NAT: { title: 'Seu roteador está atrás de outro roteador (NAT duplo): ele não tem endereço público próprio.', advice: 'Coloque o modem do provedor em modo bridge, ou redirecione a porta {port} no modem para o seu roteador, ou use o DMZ do modem.' },
  PORT_CLOSED: { title: 'A porta {port} está fechada vista da internet.', advice: 'Redirecione a porta TCP {port} do roteador para este nó, ou ative UPnP / NAT-PMP no roteador.' },
  UPNP_OFF: { title: 'Seu roteador não oferece UPnP, NAT-PMP nem PCP, então a porta não pode ser aberta automaticamente.', advice: 'Ative UPnP ou NAT-PMP no roteador, ou redirecione a porta TCP {port} para este nó manualmente.' },
  UPNP_REFUSED: { title: 'Seu roteador recusou abrir a porta {port}.', advice: 'Outro aparelho pode usar essa porta, ou o roteador limita o UPnP: confira as configurações ou redirecione a porta manualmente.' },
  DNS_STALE: { title: 'O DNS do registro não responde o endereço atual deste nó para {name}.', advice: 'O nó tentará de novo sozinho; se continuar, verifique se o nó alcança o registro.' },
  DNS_REBIND_PROTECTION: { title: 'O DNS do seu roteador esconde {lan} (proteção contra DNS rebinding), então o nome de casa não funciona aqui.', advice: 'Libere a zona do registro na proteção DNS-rebind do roteador, ou use outro servidor DNS em casa.' },
  NO_HAIRPIN: { title: 'De dentro de casa o endereço público não volta para este nó (sem hairpin NAT).', advice: 'Em casa, use {lan}: tem o mesmo certificado e vai direto ao nó.' },
  IPV6_AVAILABLE: { title: 'Este nó tem um endereço IPv6 público.', advice: 'Aparelhos com IPv6 chegam a {name} diretamente; libere a porta {port} de entrada no firewall IPv6 do roteador.' },
};

const de: Catalog = {
  REACHABLE: { title: '{name} ist aus dem Internet auf Port {port} erreichbar.', advice: 'Nichts zu tun.' },
  REGISTRY_UNREACHABLE: { title: 'Die Registry ist nicht erreichbar, der öffentliche Name kann nicht aktualisiert werden.', advice: 'Prüfen Sie die Internetverbindung und die Registry-URL in der Konfiguration; Änderungen werden gespeichert und gesendet, sobald sie wieder da ist.' },
  NOT_LISTENING: { title: 'Auf diesem Knoten antwortet nichts auf Port {port}.', advice: 'Starten Sie das Gateway (`nodegate start`) und führen Sie die Diagnose erneut aus.' },
  CGNAT: { title: 'Ihr Anbieter teilt eine öffentliche Adresse unter vielen Kunden (Carrier-Grade-NAT): Ihr Router hat {router}, das Internet sieht {public}.', advice: 'Von zu Hause lassen sich keine Ports öffnen. Fragen Sie Ihren Anbieter nach einer öffentlichen IPv4-Adresse, nutzen Sie IPv6, falls vorhanden, oder Tor.' },
  DOUBLE_NAT: { title: 'Ihr Router steht hinter einem weiteren Router (doppeltes NAT): er hat keine eigene öffentliche Adresse.', advice: 'Schalten Sie das Modem des Anbieters in den Bridge-Modus, leiten Sie Port {port} am Modem zu Ihrem Router weiter, oder machen Sie Ihren Router zum "Exposed Host" (DMZ) des Modems.' },
  PORT_CLOSED: { title: 'Port {port} ist aus dem Internet gesehen geschlossen.', advice: 'Leiten Sie TCP-Port {port} am Router an diesen Knoten weiter, oder schalten Sie UPnP / NAT-PMP im Router ein.' },
  UPNP_OFF: { title: 'Ihr Router bietet weder UPnP noch NAT-PMP oder PCP, der Port kann nicht automatisch geöffnet werden.', advice: 'Schalten Sie UPnP oder NAT-PMP im Router ein, oder leiten Sie TCP-Port {port} von Hand an diesen Knoten weiter.' },
  UPNP_REFUSED: { title: 'Ihr Router hat das Öffnen von Port {port} abgelehnt.', advice: 'Ein anderes Gerät nutzt den Port vielleicht schon, oder der Router erlaubt UPnP nur manchen Geräten: prüfen Sie die UPnP-Einstellungen oder leiten Sie den Port von Hand weiter.' },
  DNS_STALE: { title: 'Das DNS der Registry nennt für {name} nicht die aktuelle Adresse dieses Knotens.', advice: 'Der Knoten versucht es selbst erneut; bleibt es so, prüfen Sie, ob der Knoten die Registry erreicht.' },
  DNS_REBIND_PROTECTION: { title: 'Das DNS Ihres Routers verbirgt {lan} (DNS-Rebind-Schutz), der Heimname funktioniert hier nicht.', advice: 'Nehmen Sie die Zone der Registry im DNS-Rebind-Schutz des Routers aus, oder nutzen Sie zu Hause einen anderen DNS-Server.' },
  NO_HAIRPIN: { title: 'Von zu Hause aus führt die öffentliche Adresse nicht zurück zu diesem Knoten (kein Hairpin-NAT).', advice: 'Nutzen Sie zu Hause {lan}: gleiches Zertifikat, direkter Weg zum Knoten.' },
  IPV6_AVAILABLE: { title: 'Dieser Knoten hat eine öffentliche IPv6-Adresse.', advice: 'Geräte mit IPv6 erreichen {name} direkt; erlauben Sie eingehenden Port {port} in der IPv6-Firewall des Routers.' },
};

const fr: Catalog = {
  REACHABLE: { title: '{name} est joignable depuis internet sur le port {port}.', advice: 'Rien à faire.' },
  REGISTRY_UNREACHABLE: { title: 'Le registre est injoignable : le nom public ne peut pas être mis à jour.', advice: 'Vérifiez la connexion internet et l\'URL du registre dans la configuration ; les changements sont gardés et envoyés à son retour.' },
  NOT_LISTENING: { title: 'Rien ne répond sur le port {port} de ce nœud.', advice: 'Démarrez la passerelle (`nodegate start`) puis relancez le diagnostic.' },
  CGNAT: { title: 'Votre fournisseur partage une adresse publique entre de nombreux clients (CGNAT) : votre routeur a {router}, internet voit {public}.', advice: 'Impossible d\'ouvrir des ports depuis chez vous. Demandez une IPv4 publique à votre fournisseur, utilisez IPv6 si disponible, ou Tor.' },
  DOUBLE_NAT: { title: 'Votre routeur est derrière un autre routeur (double NAT) : il n\'a pas d\'adresse publique à lui.', advice: 'Passez la box du fournisseur en mode bridge, ou redirigez le port {port} de la box vers votre routeur, ou mettez votre routeur en DMZ de la box.' },
  PORT_CLOSED: { title: 'Le port {port} est fermé vu depuis internet.', advice: 'Redirigez le port TCP {port} du routeur vers ce nœud, ou activez UPnP / NAT-PMP dans le routeur.' },
  UPNP_OFF: { title: 'Votre routeur ne propose ni UPnP, ni NAT-PMP, ni PCP : le port ne peut pas être ouvert automatiquement.', advice: 'Activez UPnP ou NAT-PMP dans le routeur, ou redirigez à la main le port TCP {port} vers ce nœud.' },
  UPNP_REFUSED: { title: 'Votre routeur a refusé d\'ouvrir le port {port}.', advice: 'Un autre appareil utilise peut-être ce port, ou le routeur limite UPnP : vérifiez ses réglages UPnP ou redirigez le port à la main.' },
  DNS_STALE: { title: 'Le DNS du registre ne donne pas l\'adresse actuelle de ce nœud pour {name}.', advice: 'Le nœud réessaiera de lui-même ; si cela dure, vérifiez que le nœud joint le registre.' },
  DNS_REBIND_PROTECTION: { title: 'Le DNS de votre routeur masque {lan} (protection DNS rebinding) : le nom local ne fonctionne pas ici.', advice: 'Autorisez la zone du registre dans la protection DNS-rebind du routeur, ou utilisez un autre serveur DNS à la maison.' },
  NO_HAIRPIN: { title: 'Depuis chez vous, l\'adresse publique ne ramène pas à ce nœud (pas de hairpin NAT).', advice: 'À la maison, utilisez {lan} : même certificat, chemin direct vers le nœud.' },
  IPV6_AVAILABLE: { title: 'Ce nœud a une adresse IPv6 publique.', advice: 'Les appareils en IPv6 joignent {name} directement ; autorisez le port {port} entrant dans le pare-feu IPv6 du routeur.' },
};

export const CATALOG: Record<Language, Catalog> = { en, es, 'pt-BR': ptBR, de, fr };

/** Picks a supported language from a tag like `pt-BR`, `pt_BR.UTF-8`, `de-AT`; default en. */
export function pickLanguage(tag: string | undefined): Language {
  if (!tag) return 'en';
  const t = tag.replace('_', '-').split('.')[0]!.toLowerCase();
  if (t.startsWith('pt')) return 'pt-BR';
  const base = t.split('-')[0]!;
  return (LANGUAGES as readonly string[]).includes(base) ? (base as Language) : 'en';
}

export function renderVerdict(code: VerdictCode, lang: Language, vars: Record<string, string | number>): VerdictText {
  const fill = (s: string) => s.replace(/\{(\w+)\}/g, (whole, k: string) => (k in vars ? String(vars[k]) : whole));
  const t = CATALOG[lang][code];
  return { title: fill(t.title), advice: fill(t.advice) };
}
