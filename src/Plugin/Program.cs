using Gentoo.Connection;
using Gentoo.Plugin;

ClientJson.Lock();
return await PluginCommand.Create(Console.Out, Console.Error).Parse(args).InvokeAsync();
