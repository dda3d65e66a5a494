using Gentoo.Plugin;

return await PluginCommand.Create(Console.Out, Console.Error).Parse(args).InvokeAsync();
