import type { UnknownField } from "@xiaozhi-connect/webserver-adapter";
import type { Messages } from "./messages.js";
import { asIs } from "./reasons.js";

const configOf = (path: string | null) => path ?? "演示模式";
const fieldOf = (key: string | undefined) =>
  !key
    ? "配置"
    : ["heartbeatInterval", "heartbeatTimeout", "reconnectInterval"].includes(key)
      ? `connection.${key}`
      : key;

/** Everything the command line says, in 简体中文, with the dashboard's words for the same things. */
export const zhCN: Messages = {
  explain: asIs,
  help: {
    description: "把本机的 MCP 工具同时接入多个小智智能体，并让每条连接始终在线。",
    version: "显示版本号",
    help: "显示命令的帮助",
    helpCommand: "显示命令的帮助",
    config: "配置文件（不指定时按查找顺序：见 `xiaozhi-connect config path`）",
    lang: "命令行语言：en 或 zh-CN（不指定时看 LC_ALL、LC_MESSAGES、LANG）",
    addHelp: "（加 --help 查看用法）",
    usageOptions: "[选项]",
    usageCommand: "[命令]",
    titles: {
      usage: "用法：",
      options: "选项：",
      commands: "命令：",
      arguments: "参数：",
      globalOptions: "全局选项：",
    },
    byDefault: (value: string) => `（默认：${value}）`,
    port: "HTTP 端口（不指定时看 $XIAOZHI_PORT、webUI.port，默认 9999；0 表示任选空闲端口）",
    host: "监听地址（不指定时看 $XIAOZHI_HOST、webUI.host，默认 127.0.0.1）",
    logSize: "配合 -d：日志文件达到此大小时轮转（如 10M、500K）",
    logFiles: "配合 -d：保留的旧日志文件数",
    debug: "输出 debug 级别日志（同 XIAOZHI_LOG_LEVEL=debug）",
    start: "启动 WebServer（在前台运行；加 -d 在后台运行）",
    daemon: "在后台运行：写 pid 文件和轮转日志，就绪后返回",
    stop: "停止此配置的服务器（先正常停止，超时后强制结束）",
    timeout: "强制结束前等待的秒数",
    restart: "停止此配置的服务器，再在后台启动",
    status: "此配置的服务器是否在运行，以及它的接入点和服务",
    json: "输出 JSON",
    logs: "以易读的格式显示用 -d 启动的服务器的日志",
    lines: "从末尾显示多少行",
    page: "显示第几页接入点",
    perPage: "每页显示多少个接入点（1 到 1000）",
    stateFilter: "只显示这些状态的接入点，用逗号分隔（connected、reconnecting、failed 等）",
    follow: "持续显示新的日志行，直到按 Ctrl-C",
    rawJson: "原样输出日志的 JSON 行",
    endpoint: "列出、添加、移除或重连小智接入点",
    endpointList: "列出所有接入点（已遮蔽令牌；服务器运行时为实时状态，否则读配置文件）",
    endpointAdd: "添加接入点（服务器运行时立即连接）并保存",
    name: "智能体名称，显示在控制台、日志和指标中",
    endpointRemove: "移除接入点（服务器运行时立即关闭连接）并保存",
    endpointReconnect: "立即断开并重新建立一个接入点的连接",
    service: "提供工具的 MCP 服务",
    serviceList: "列出所有服务、状态以及停止原因",
    tool: "列出工具，或启用、停用某个工具",
    toolList: "列出所有工具、所属服务以及是否启用",
    client: "允许访问服务器 /mcp 的 MCP 客户端（编辑器、桌面助手）",
    clientAdd: "添加 MCP 客户端并打印其令牌（只显示这一次）",
    clientList: "列出 MCP 客户端及其限制（从不显示令牌）",
    clientRemove: "删除 MCP 客户端：其令牌随即失效",
    clientServices: "只开放这些服务的工具（逗号分隔）",
    clientTools: "只开放这些工具，写作 <服务>__<工具>（逗号分隔）",
    stdio: "在标准输入/输出上提供正在运行的服务器的工具，供以命令方式启动的 MCP 客户端使用",
    stdioClient: "使用哪个客户端的令牌（配置了多个客户端时必填）",
    token: "显示运行中服务器的 Bearer 令牌（启动时只显示一次，从不写入日志）",
    password: "设置登录页的密码（不回显输入，或从 stdin 读取），以哈希形式保存",
    passwordRemove: "删除密码：只能用令牌登录",
    toolService: "只列出这个服务的工具",
    toolEnable: "启用工具（<服务>__<工具>）；立即生效并保存",
    toolDisable: "停用工具（<服务>__<工具>）；立即生效并保存",
    config_: "配置文件在哪、是否有效，以及生成初始配置",
    configPath: "查找顺序会选中哪个配置文件，以及原因",
    configCheck: "检查配置文件（默认检查查找到的那个）；无效时退出码为 1，并指出每个错误字段",
    configInit: "在查找顺序会找到的位置写入一份初始配置",
    force: "覆盖已有的文件",
  },
  errors: {
    badLanguage: (value: string) => `命令行支持 en 和 zh-CN，收到的是 "${value}"`,
    badPort: (value: string) => `端口必须是 0 到 65535 之间的整数，收到的是 "${value}"`,
    badCount: (value: string) => `需要一个非负整数，收到的是 "${value}"`,
  },
  commanderErrors: [
    [/^error: unknown command '(.+?)'/, (c) => `错误：未知命令 '${c}'`],
    [/^error: unknown option '(.+?)'/, (o) => `错误：未知选项 '${o}'`],
    [/^error: missing required argument '(.+?)'/, (a) => `错误：缺少必需的参数 '${a}'`],
    [/^error: option '(.+?)' argument missing/, (o) => `错误：选项 '${o}' 缺少参数值`],
    [
      /^error: option '(.+?)' argument '(.*?)' is invalid\. /,
      (o, v) => `错误：选项 '${o}' 的参数 '${v}' 无效。`,
    ],
    [
      /^error: command-argument value '(.*?)' is invalid for argument '(.+?)'\. /,
      (v, a) => `错误：参数 '${a}' 的值 '${v}' 无效。`,
    ],
    [
      /^error: too many arguments(?: for '(.+?)')?\. Expected (\d+) arguments? but got (\d+)\./,
      (c, expected, got) => `错误：${c ? `'${c}' 的` : ""}参数过多：需要 ${expected} 个，收到 ${got} 个。`,
    ],
    [/\(Did you mean (.+?)\?\)/, (s) => `（你是不是要用 ${s}？）`],
  ],
  plainErrors: [[/^config file not found: (.+)$/, (path) => `找不到配置文件：${path}`]],
  prefixCodes: true,
  errorCodes: {
    INVALID_ENDPOINT: "接入点地址无效",
    DUPLICATE_ENDPOINT: "该接入点已存在",
    UNKNOWN_ENDPOINT: "没有这个接入点",
    UNKNOWN_TOOL: "没有这个工具",
    UNKNOWN_SERVICE: "没有这个服务",
    DUPLICATE_SERVICE: "该服务已存在",
    BAD_REQUEST: "请求无效",
    PAYLOAD_TOO_LARGE: "请求内容过大",
    UNAUTHORIZED: "需要有效的令牌",
    FORBIDDEN_ORIGIN: "不允许跨站请求",
    FORBIDDEN_HOST: "不允许此主机名访问",
    INVALID_CONFIG: "配置无效",
    UNKNOWN_STRATEGY: "未知的负载均衡策略",
    UNSUPPORTED_MEDIA_TYPE: "请以 JSON 发送",
    CLUSTER_UNAVAILABLE: "无法连接集群的 Redis",
    CLUSTER_OUTCOME_UNKNOWN: "Redis 未及时确认这次修改：它可能仍会生效，再试一次是安全的",
    NOT_FOUND: "没有这个地址",
    METHOD_NOT_ALLOWED: "不允许此方法",
    INTERNAL: "服务器内部错误",
  },
  states: {
    connected: "已连接",
    connecting: "连接中",
    reconnecting: "重连中",
    republishing: "正在重新发布工具",
    awaitingAgent: "已连接，等待智能体",
    disconnected: "已断开",
    failed: "失败",
    stopped: "已停止",
    running: "运行中",
    up: "运行中",
    down: "已停止",
    starting: "启动中",
    "not running": "未运行",
  },
  sources: {
    "--config": "--config",
    $XIAOZHI_CONFIG: "$XIAOZHI_CONFIG",
    $XIAOZHI_CONFIG_DIR: "$XIAOZHI_CONFIG_DIR",
    "current directory": "当前目录",
    "xiaozhi-client's home": "xiaozhi-client 的目录",
  },
  tables: {
    given: "提供的工具",
    overMax: (max: number) => `（超过 maxTools ${max}）`,
    id: "ID",
    agent: "智能体",
    agentNumbered: (id: string) => `智能体 ${id}`,
    url: "地址",
    state: "状态",
    instance: "实例",
    health: "健康度",
    rtt: "往返时延",
    lastError: "最近错误",
    none: "（无）",
    address: "地址",
    endpoints: "接入点",
    heartbeat: "最近心跳",
    thisOne: "（本实例）",
    secondsAgo: (seconds: string) => `${seconds} 秒前`,
    ago: (ms: number) =>
      ms < 60_000
        ? `${Math.round(ms / 1000)} 秒前`
        : ms < 3_600_000
          ? `${Math.round(ms / 60_000)} 分钟前`
          : `${Math.round(ms / 3_600_000)} 小时前`,
    withAge: (error: string, ago: string) => `${error}（${ago}）`,
    service: "服务",
    tools: "工具",
    restarts: "重启次数",
    whyDown: "停止原因",
    tool: "工具",
    enabled: "启用",
    description: "说明",
    yes: "是",
    no: "否",
    unavailable: "不可用",
    source: "来源",
    path: "路径",
  },
  server: {
    overBudget: (agent: string, tools: number, max: number) =>
      `警告：${agent} 获得了 ${tools} 个工具，超过 maxTools ${max}；工具太多会让智能体选错工具，也可能让自部署服务器卡住。请关闭一些工具（xiaozhi-connect tool disable 名称），或给该接入点设置 services/tools 过滤`,
    alreadyRunning: (pid: number, url: string) =>
      `此配置的服务器已在运行（pid ${pid}，${url}）；其他配置的服务器可以同时运行`,
    notUpWithin: (seconds: number, log: string) => `${seconds} 秒内没有就绪；请查看 ${log}`,
    exitedEarly: (how: string, log: string) => `就绪前就退出了（${how}）；请查看 ${log}`,
    couldNotStart: (why: string) => `无法启动：${why}`,
    inBackground: (pid: number, log: string, stop: string) =>
      `已在后台运行（pid ${pid}）；日志：${log}；停止：${stop}`,
    killing: (seconds: number) => `${seconds} 秒后仍在运行，强制结束`,
    stopped: (pid: number, config: string | null) => `已停止（pid ${pid}，配置 ${configOf(config)}）`,
    demoBanner: (searched: readonly string[]) => [
      "xiaozhi-connect：演示模式。没有找到 xiaozhi.config.json，因此在 127.0.0.1 上运行三个模拟的",
      "  小智智能体（其中一个会不时断线）和内置的演示工具（计算器、时钟）。",
      `  查找过：${searched.join("、")}`,
      '  要接入真实的智能体，请创建 xiaozhi.config.json，写入 {"mcpEndpoint": ["wss://api.xiaozhi.me/mcp/?token=…"]}',
      "  和你的 mcpServers，或用 --config 指定文件（xiaozhi-connect config init 会写一份初始配置）。",
    ],
    generatedToken: [
      "xiaozhi-connect：监听在本机以外的地址；所有页面和接口都需要用令牌或你的密码登录。",
      "  下面的控制台链接带有令牌（#token= 之后的部分，不会发到服务器）；`xiaozhi-connect token` 可再次打印它。",
    ],
    noEndpoints: (skipped: number) =>
      skipped
        ? `（mcpEndpoint 中没有可用的地址：跳过了 ${skipped} 个占位符或无效条目）`
        : "（mcpEndpoint 为空：请填入智能体的接入点地址）",
    ready: (r) =>
      `xiaozhi-connect 已就绪：控制台 ${r.url} · 接入点 ${r.connected}/${r.total} 已连接${r.why} · ${r.tools} 个工具${r.starting ? `（${r.starting} 个服务仍在启动）` : ""} · 配置 ${configOf(r.config)}`,
    portInUse: (host: string, port: number) =>
      `${host} 的端口 ${port} 已被占用（是另一个 xiaozhi-connect 吗？请运行 xiaozhi-connect status）；用 --port 换一个端口，或用 0 任选空闲端口`,
    noLog: (path: string) => `${path} 没有日志文件（日志由 xiaozhi-connect start -d 写入）`,
    stoppedFor: (word: string, config: string | null) => `xiaozhi-connect ${word} · 配置 ${configOf(config)}`,
    notRunningFor: (config: string | null) => `配置 ${configOf(config)} 的 xiaozhi-connect 没有在运行`,
    otherServer: (pid: number, url: string, config: string | null) =>
      `  另一个配置的服务器正在运行：pid ${pid}，${url}，配置 ${configOf(config)}${config ? `（加上 --config ${config}）` : ""}`,
    runningLine: (word: string, pid: number, url: string, version: string) =>
      `xiaozhi-connect ${word} · pid ${pid} · ${url} · 版本 ${version}`,
    configLine: (config: string | null) => `配置 ${configOf(config)}`,
    rejected: (error: string) => ` · 最近一次修改被拒绝：${error}`,
    restartNeeded: (blocks: readonly string[]) =>
      `  已修改、重启服务器后生效（xiaozhi-connect restart）：${blocks.join("、")}`,
    clusterLine: (instance: string, redis: string) => `集群：实例 ${instance} · Redis ${redis}`,
    redisAway: " · 无法连接：保持本实例已持有的接入点",
    endpointSummary: (connected: number, total: number, others: string) =>
      `接入点 ${connected}/${total} 已连接${others}`,
    pageLine: (from: number, to: number, total: number, next: number | undefined) =>
      total === 0
        ? "没有符合条件的接入点"
        : `显示第 ${from}–${to} 个，共 ${total} 个${next === undefined ? "" : `；更多：--page ${next}`}`,
  },
  auth: {
    noServer: "这个配置没有正在运行的 xiaozhi-connect 服务器。",
    noToken: "这台服务器不需要令牌：它只监听本机回环地址，也没有设置 webUI.authToken。",
    prompt: "新密码：",
    tooShort: (min: number) => `密码至少需要 ${min} 个字符。`,
    set: "密码已设置。服务器启动后会在登录页要求输入它。",
    setRestart: "密码已设置。请重启服务器后生效（xiaozhi-connect restart）。",
    removed: "密码已删除。正在运行的服务器需重启后生效。",
  },
  clients: {
    added: (name: string, token: string, url: string) => [
      `已添加 MCP 客户端 "${name}"。它的令牌只显示这一次：`,
      "",
      `  ${token}`,
      "",
      `让客户端连接 ${url}mcp，并带上请求头 "Authorization: Bearer <令牌>"，`,
      `或让它启动 \`xiaozhi-connect stdio --client ${name}\`。README 中有配置示例。`,
    ],
    none: "尚未配置 MCP 客户端。用 `xiaozhi-connect client add 名称` 添加。",
    removed: (name: string) => `已删除 MCP 客户端 "${name}"。`,
    unknown: (name: string) => `没有名为 "${name}" 的 MCP 客户端。`,
    duplicate: (name: string) => `已存在名为 "${name}" 的 MCP 客户端。`,
    all: "全部工具",
    name: "客户端",
    limits: "工具",
    noServer:
      "这个配置没有正在运行的 xiaozhi-connect 服务器，因此没有可提供的工具。请先启动：`xiaozhi-connect start -d`。",
    which: (names: readonly string[]) =>
      `配置了多个 MCP 客户端（${names.join("、")}）：请用 --client 名称 选择一个。`,
  },
  manage: {
    noServerNoConfig: "没有运行中的服务器，也没有找到配置文件（试试：xiaozhi-connect config init）",
    unreachable: (url: string, why: string) => `无法连接 ${url} 的服务器：${why}`,
    httpStatus: (status: number) => `服务器返回 HTTP ${status}`,
    noEndpoint: (id: string) => `没有接入点 ${id}`,
    noEndpointNamed: (name: string) =>
      `没有名为「${name}」的接入点：请给出它的 ID 或地址（xiaozhi-connect endpoint list 会列出）`,
    severalNamed: (name: string, ids: readonly string[]) =>
      `有 ${ids.length} 个接入点名为「${name}」：请给出你要的那个的 ID（${ids.join("、")}）`,
    clustered:
      "此配置运行在集群模式：接入点列表保存在 Redis 中，文件里的 mcpEndpoint 只用于初始化空集群。请先启动一个实例（xiaozhi-connect start -d）再执行此命令，修改会作用于所有实例",
    reconnectNeedsServer: "重连需要运行中的服务器（xiaozhi-connect start -d）",
    toolName: (separator: string, name: string) =>
      `工具名的格式是 <服务>${separator}<工具>，收到的是 "${name}"`,
    noConfigFound: "没有找到配置文件（xiaozhi-connect config init 会写一份）",
    unreadable: (code: string) => `无法读取：${code}`,
    skipped: (endpoint: string, reason: string) => `已跳过 ${endpoint}：${reason}`,
    unknownField: ({ path, meant, xiaozhiClient }: UnknownField) =>
      xiaozhiClient
        ? `${path} 是 xiaozhi-client 自己的设置（语音、模型、调用日志），这里不使用`
        : `xiaozhi-connect 不读取 ${path} 这个字段，它会被忽略${meant ? `（是不是想写 ${meant}？）` : ""}`,
    readableByOthers: (mode: number, path: string) =>
      `本机其他用户可以读取这个文件（权限 ${mode.toString(8).padStart(3, "0")}），而它含有令牌：chmod 600 ${path}`,
    noUsableEndpoint:
      "mcpEndpoint 中没有可用的接入点：不会建立任何连接。请填入智能体的接入点地址（xiaozhi.me 控制台 → 你的智能体 → MCP 接入点）",
    toolUnavailable: (name: string, reason: string) => `自定义工具 ${name} 不可用：${reason}`,
    straySwitch: (path: string, why: string) => `${path} 不对应任何工具：${why}`,
    noSuchService: "mcpServers 中没有这个名称的服务",
    noSuchCustomTool: "customMCP 中没有这个名称的工具",
    counts: (endpoints: number, services: number) => `${endpoints} 个接入点、${services} 个服务`,
    nowhereToWrite: "没有可以写入配置的位置",
    exists: (path: string) => `${path} 已存在（加 --force 覆盖）`,
    noEndpoints: "没有接入点",
    added: (id: string, name: string | undefined, url: string, state: string) =>
      `已添加 ${id}${name ? `（${name}）` : ""} ${url}（${state}）`,
    refused: (why: string) =>
      `智能体拒绝了这个接入点${why ? `：${why}` : ""}。它已保存；请检查令牌（xiaozhi-connect endpoint remove ID 可移除）`,
    removed: (id: string | undefined) => `已移除${id ? ` ${id}` : "该接入点"}`,
    reconnecting: (id: string) => `正在重连 ${id}`,
    noneFound: "没有找到：服务器会以演示模式启动",
    checked: (path: string, summary: string, warnings: number) =>
      `${path}：有效（${summary}）${warnings ? `，有 ${warnings} 条警告` : ""}`,
    warning: "警告：",
    separator: "；",
    wrote: (path: string) => `已写入 ${path}；请在 mcpEndpoint 中填入接入点地址，在 mcpServers 中配置服务`,
    noServices: "没有服务",
    noTools: "没有工具",
    enabled: (name: string) => `已启用 ${name}`,
    disabled: (name: string) => `已停用 ${name}`,
  },
  habits: {
    ours: (command: string) => `（这是 xiaozhi-client 的命令；这里对应的是：${command}）`,
    mcp: "xiaozhi-client 的 mcp 命令：list、server、tool、call",
    mcpList: "列出服务（加 --tools 列出工具）：同 service list / tool list",
    mcpListTools: "改为列出工具",
    mcpServer: "某个服务的工具：同 tool list --service 名称",
    mcpTool: "启用或停用工具：同 tool enable|disable 服务__工具",
    enableOrDisable: (action: string) => `操作必须是 enable 或 disable，收到的是 "${action}"`,
    mcpCall: "xiaozhi-client 的 mcp call：告诉你改用什么",
    mcpCallArgs: "工具参数（JSON 格式）",
    mcpCallAnswer: (tool: string | undefined) =>
      `xiaozhi-connect 没有调用工具的命令：${tool === undefined ? "工具" : `${tool} `}由智能体调用，你允许的 MCP 客户端也可以调用（xiaozhi-connect client add 名称，然后让它连接服务器的 /mcp，或让它启动 xiaozhi-connect stdio）`,
    attach: "持续查看后台服务器的日志：同 logs -f",
    service: (command: string) => `xiaozhi-client 的 service ${command}：同 ${command}`,
    stdioAnswer:
      "xiaozhi-connect 没有 start --stdio：请让 MCP 客户端启动 xiaozhi-connect stdio [--client 名称]，它在 stdin/stdout 上提供正在运行的服务器的工具。先启动服务器（xiaozhi-connect start -d），再用 xiaozhi-connect client add 名称 允许这个客户端",
    info: "xiaozhi-client 的 info：告诉你去哪里看",
    infoAnswer:
      "xiaozhi-connect 没有 info 命令：xiaozhi-connect --version 显示版本号，xiaozhi-connect status 显示服务器是否在运行（及其接入点和服务），xiaozhi-connect config path 显示读取的是哪个配置文件",
    configGet: "xiaozhi-client 的 config get：告诉你去哪里看",
    configGetAnswer: (key: string | undefined, file: string | null) =>
      key === "mcpEndpoint"
        ? "xiaozhi-connect 没有 config get。查看接入点（已遮蔽令牌）：xiaozhi-connect endpoint list"
        : key === "mcpServers"
          ? "xiaozhi-connect 没有 config get。查看服务：xiaozhi-connect service list"
          : `xiaozhi-connect 没有 config get：请直接查看${file ? ` ${file}` : "配置文件（xiaozhi-connect config path）"}${key ? ` 中的 ${fieldOf(key)}` : ""}，或用 xiaozhi-connect config check 检查`,
    configSet: "xiaozhi-client 的 config set：告诉你改用什么",
    configSetAnswer: (key: string, file: string | null) =>
      key === "mcpEndpoint"
        ? "xiaozhi-connect 没有 config set。添加或移除接入点：xiaozhi-connect endpoint add 地址 / endpoint remove ID（保存后立即生效）"
        : `xiaozhi-connect 没有 config set：请直接编辑${file ? ` ${file} 中的` : "配置文件（xiaozhi-connect config path）中的"} ${fieldOf(key)}；保存后立即生效，可用 xiaozhi-connect config check 检查`,
    configMcpEndpoint: "xiaozhi-client 的 config mcpEndpoint：告诉你改用什么",
    configMcpEndpointAnswer: (url: boolean, file: string | null) =>
      url
        ? `xiaozhi-connect 没有 config mcpEndpoint（它会一次替换全部接入点）：用 xiaozhi-connect endpoint add 地址 添加这个接入点，用 endpoint remove ID 移除其他接入点（保存后立即生效），或直接编辑${file ? ` ${file} 中的` : "配置文件（xiaozhi-connect config path）中的"} mcpEndpoint`
        : "xiaozhi-connect 没有 config mcpEndpoint。查看接入点（已遮蔽令牌）：xiaozhi-connect endpoint list",
    endpointSet: "xiaozhi-client 的 endpoint set：告诉你改用什么",
    endpointSetAnswer: (file: string | null) =>
      `xiaozhi-connect 没有 endpoint set（它会一次替换全部接入点）：请直接编辑${file ? ` ${file} 中的` : "配置文件（xiaozhi-connect config path）中的"} mcpEndpoint（保存后立即生效），或逐个添加、移除：xiaozhi-connect endpoint add 地址 / endpoint remove ID`,
    ui: "xiaozhi-client 的 ui：控制台始终开启",
    uiAnswer: (url: string, running: boolean) =>
      running
        ? `xiaozhi-connect 没有 ui 命令：控制台始终开启，地址是 ${url}`
        : `xiaozhi-connect 没有 ui 命令：服务器运行时控制台始终开启（xiaozhi-connect start -d，然后打开 ${url}）`,
    create: "xiaozhi-client 的 create：告诉你改用什么",
    createAnswer:
      "xiaozhi-connect 没有项目模板：xiaozhi-connect config init 会写一份初始配置，任何 MCP 服务器都可以作为服务（配置中的 mcpServers）",
  },
};
