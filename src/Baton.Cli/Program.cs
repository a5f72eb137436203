using System.CommandLine;
using Baton.Cli;

var root = new RootCommand("Baton: a layer-7 router that hands live TCP connections to back-ends instead of proxying them.");
root.Add(RouterCommand.Create());
root.Add(AgentCommand.Create());
root.Add(WorkerCommand.Create());
root.Add(OriginCommand.Create());
root.Add(DemoCommand.Create());
return await root.Parse(args).InvokeAsync();
